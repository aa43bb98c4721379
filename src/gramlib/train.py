"""Training recipes and a small, resumable trainer on in-memory image tensors.

The recipes are the paper's (§4.1); the proxy recipe is for scoring search
candidates in seconds. Images live in memory as uint8 (N, C, H, W) tensors
(:class:`gramlib.data.ImageData`); augmentation runs on whole batches.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from .progress import progress_bar as tqdm

from .io import atomic_write_bytes

log = logging.getLogger(__name__)


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


SCHEDULES = ("multistep", "step", "cosine", "onecycle", "constant")


@dataclass(frozen=True)
class Recipe:
    """How to train.

    Args:
        optimizer: "sgd" (momentum), "rmsprop" or "adam".
        lr: initial learning rate.
        epochs: passes over the training data.
        batch_size: images per step.
        weight_decay: L2 penalty.
        momentum: SGD/RMSprop momentum.
        nesterov: Nesterov momentum (SGD only).
        schedule: "multistep" (×``lr_decay`` at ``milestones`` fractions of the
            epochs), "step" (×``lr_decay`` every ``step_epochs`` epochs),
            "cosine", "onecycle" (linear up to ``lr`` over the ``warmup`` fraction
            of the steps, then linearly down to 0) or "constant".
        warmup: fraction of the steps spent warming up linearly from 0 (any schedule).
        augment: "crop_flip" (``crop_pad``-pixel-padded random crop + horizontal flip),
            "crop" (no flip: digits) or "none".
        crop_pad: the random crop's padding in pixels, i.e. the largest shift (4, the CIFAR
            convention; 2 suits MNIST's small, centred digits: docs/interpretation.md, row 23).
    """

    optimizer: str = "sgd"
    lr: float = 0.01
    epochs: int = 100
    batch_size: int = 128
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "multistep"
    milestones: tuple[float, ...] = (0.5, 0.75)
    lr_decay: float = 0.1
    step_epochs: float = 2.0
    augment: str = "crop_flip"
    crop_pad: int = 4
    label_smoothing: float = 0.0
    rmsprop_alpha: float = 0.9
    rmsprop_eps: float = 1.0
    warmup: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "rmsprop", "adam"):
            raise ValueError(f"optimizer must be sgd, rmsprop or adam, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(f"nesterov applies to sgd only, got optimizer {self.optimizer!r}")
        if self.augment not in ("crop_flip", "crop", "none"):
            raise ValueError(f"augment must be crop_flip, crop or none, got {self.augment!r}")
        if not isinstance(self.crop_pad, int) or self.crop_pad < 0:
            raise ValueError(f"crop_pad must be a whole number of pixels >= 0, got {self.crop_pad!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0 (got {self.epochs}, {self.batch_size}, {self.lr})")

    def __repr__(self) -> str:
        # run keys (checkpoint and record names) hash this text: a field added after keys were published
        # (_ADDED_FIELDS) shows only when it differs from its default, so earlier runs keep their keys
        shown = [f"{f}={getattr(self, f)!r}" for f in self.__dataclass_fields__
                 if not (f in _ADDED_FIELDS and getattr(self, f) == _ADDED_FIELDS[f])]
        return f"Recipe({', '.join(shown)})"


#: fields added to :class:`Recipe` after run keys were published, with the default that keeps those keys
_ADDED_FIELDS: dict[str, Any] = {"crop_pad": 4}


#: The paper's recipes (§4.1) and the proxy used to score candidates.
RECIPES: dict[str, Recipe] = {
    # CIFAR-10: momentum SGD, lr 0.01, ×0.1 at 50 % and 75 % of the epochs, L2 5e-4
    "cifar10": Recipe("sgd", lr=0.01, epochs=100, batch_size=128, weight_decay=5e-4, schedule="multistep"),
    # ImageNet: Inception-v3 settings: RMSprop lr 0.045 (decay 0.9, eps 1.0), ×0.94 every 2 epochs, L2 1e-5
    "imagenet": Recipe("rmsprop", lr=0.045, epochs=100, batch_size=128, weight_decay=1e-5, schedule="step",
                       lr_decay=0.94, step_epochs=2.0),
    # cpu: what reaches the most accuracy per minute on 2 CPU cores (docs/interpretation.md, "Training
    # recipe"): Nesterov SGD with a one-cycle schedule (short runs need no long low-lr tail), label
    # smoothing 0.1, batch 256 (fewer, larger steps: small models are overhead-bound on a CPU)
    "cpu": Recipe("sgd", lr=0.2, epochs=30, batch_size=256, weight_decay=5e-4, nesterov=True, schedule="onecycle",
                  warmup=0.2, label_smoothing=0.1),
    # cpu-short: `cpu` for runs of 1-3 epochs (the quick scale): batch 128 and lr 0.05. Steps, not images, limit
    # such runs: 2 epochs of Imagenette at batch 256 are 74 steps, and lr 0.2 is too hot for them
    # (docs/interpretation.md, "Training recipe": level-0.5 SwiftNet on Imagenette 2 epochs 36.3 % → 55.8 %;
    # Table 1's 4.65 M SwiftNet 1 epoch of CIFAR-10 56.7 % → 61.6 %, at about the same images/s)
    "cpu-short": Recipe("sgd", lr=0.05, epochs=3, batch_size=128, weight_decay=5e-4, nesterov=True,
                        schedule="onecycle", warmup=0.2, label_smoothing=0.1),
    # proxy: a few Adam epochs (the authors' follow-up uses Adam 4e-3) are enough to rank candidates
    "proxy": Recipe("adam", lr=4e-3, epochs=3, batch_size=64, weight_decay=0.0, schedule="constant", augment="none"),
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA when present, else Apple MPS, else CPU."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Normalizer:
    """uint8 images → float, standardised per channel, on the target device."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random ``pad``-pixel-padded crop (+ horizontal flip) of a float batch, as one gather (no per-image loop).

    Args:
        mode: "crop_flip", "crop" (digits: no flip) or "none".
        generator: CPU generator; the same state gives the same crops wherever ``x`` lives.
    """
    if mode == "none":
        return x
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    flip = (torch.rand(n, generator=generator) < 0.5).to(dev) if mode == "crop_flip" else None
    cols = torch.arange(w, device=dev).expand(n, w)
    if flip is not None:  # a flipped crop reads its columns right to left
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = (dx[:, None] + cols)[:, None, None, :]
    return padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                  rows, cols]


def make_optimizer(model: nn.Module, r: Recipe, steps_per_epoch: int):
    # no weight decay on BatchNorm and biases: the usual practice, and it keeps tiny proxies stable
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": r.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if r.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=r.lr, momentum=r.momentum, nesterov=r.nesterov)
    elif r.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=r.lr, alpha=r.rmsprop_alpha, eps=r.rmsprop_eps, momentum=r.momentum)
    else:
        opt = torch.optim.Adam(groups, lr=r.lr)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(r, step, steps_per_epoch))


def lr_factor(r: Recipe, step: int, steps_per_epoch: int) -> float:
    """The learning rate at ``step`` as a fraction of ``r.lr``."""
    total = r.epochs * steps_per_epoch
    warm = r.warmup * total
    if step < warm:
        return (step + 1) / warm
    if r.schedule == "constant":
        return 1.0
    if r.schedule in ("cosine", "onecycle"):
        t = (min(step, total) - warm) / max(1.0, total - warm)
        return 0.5 * (1 + math.cos(math.pi * t)) if r.schedule == "cosine" else max(0.0, 1.0 - t)
    epoch = step / steps_per_epoch
    if r.schedule == "multistep":
        return r.lr_decay ** sum(epoch >= m * r.epochs for m in r.milestones)
    return r.lr_decay ** math.floor(epoch / r.step_epochs)


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, normalizer: Normalizer, *,
             batch_size: int = 1000, topk: tuple[int, ...] = (1,), channels_last: bool = False) -> dict[str, float]:
    """Top-k accuracies (fractions) and mean loss of ``model`` on uint8 images ``x``."""
    mf = torch.channels_last if channels_last else torch.contiguous_format
    was = model.training
    model.eval()
    device = normalizer.mean.device
    correct = {k: 0 for k in topk}
    loss = 0.0
    for i in range(0, len(x), batch_size):
        xb = normalizer(x[i : i + batch_size].to(device, non_blocking=True)).contiguous(memory_format=mf)
        yb = y[i : i + batch_size].to(device)
        out = model(xb)
        loss += F.cross_entropy(out, yb, reduction="sum").item()
        top = out.topk(max(topk), dim=1).indices
        for k in topk:
            correct[k] += (top[:, :k] == yb[:, None]).any(dim=1).sum().item()
    model.train(was)
    res = {f"top{k}": correct[k] / len(x) for k in topk}
    res["loss"] = loss / len(x)
    return res


@dataclass
class TrainResult:
    history: list[dict[str, Any]] = field(default_factory=list)  #: one row per epoch
    seconds: float = 0.0
    images_per_second: float = 0.0

    @property
    def final(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe, *,
          mean: tuple[float, ...], std: tuple[float, ...],
          val: tuple[torch.Tensor, torch.Tensor] | None = None, topk: tuple[int, ...] = (1,),
          device: str | torch.device = "auto", seed: int = 0, checkpoint: str | Path | None = None,
          progress: bool = True, desc: str = "train", channels_last: bool = False) -> TrainResult:
    """Train ``model`` in place on uint8 images ``x`` (N, C, H, W) with labels ``y``.

    Args:
        recipe: optimiser, schedule, epochs, augmentation.
        mean, std: per-channel statistics in [0, 1] units.
        val: optional (x, y) evaluated after every epoch.
        device: "auto" uses a GPU when present.
        seed: seeds shuffling and augmentation (model init is the caller's).
        checkpoint: file written atomically after every epoch; if it exists the
            run resumes after its last epoch, so an interrupted run loses at
            most one epoch.
        channels_last: use the channels-last memory format (often faster on CPU for 3×3 convs).

    Raises:
        DivergedError: the loss became NaN or infinite.
    """
    dev = resolve_device(device)
    mf = torch.channels_last if channels_last else torch.contiguous_format
    model.to(dev, memory_format=mf)
    norm = Normalizer(mean, std, dev)
    n = len(x)
    steps = max(1, math.ceil(n / recipe.batch_size))
    opt, sched = make_optimizer(model, recipe, steps)
    gen = torch.Generator().manual_seed(seed)
    result = TrainResult()
    start_epoch = 0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=False)
        if Recipe(**state.get("recipe", {})) != recipe:  # a checkpoint from before a field was added has its default
            raise ValueError(f"checkpoint {ckpt} was written with another recipe; delete it or use the same recipe")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        result.history = state["history"]
        start_epoch = len(result.history)
        log.info("resuming %s from %s after epoch %d", desc, ckpt, start_epoch)
    xd, yd = x.to(dev), y.to(dev)  # uint8 on device: 4× smaller than floats
    t_start = time.perf_counter()
    seen = 0
    bar = tqdm(total=(recipe.epochs - start_epoch) * steps, desc=desc, disable=not progress, leave=False)
    for epoch in range(start_epoch, recipe.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        total_loss, total_correct = 0.0, 0
        for s in range(steps):
            idx = perm[s * recipe.batch_size : (s + 1) * recipe.batch_size]
            xb = augment_batch(norm(xd[idx]), recipe.augment, gen, pad=recipe.crop_pad).contiguous(memory_format=mf)
            yb = yd[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=recipe.label_smoothing)
            if not torch.isfinite(loss):
                bar.close()
                raise DivergedError(f"{desc}: loss became {loss.item()} at epoch {epoch + 1}, step {s + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            total_correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
            bar.update()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"],
                               "train_loss": total_loss / n, "train_acc": total_correct / n}
        if val is not None:
            ev = evaluate(model, val[0].to(dev), val[1].to(dev), norm, topk=topk, channels_last=channels_last)
            row.update({f"val_{k}": v for k, v in ev.items()})
        row["seconds"] = time.perf_counter() - t_start
        result.history.append(row)
        bar.set_postfix({k: round(v, 4) for k, v in row.items() if k.startswith(("train_loss", "val_top1"))})
        if ckpt:
            import io

            buf = io.BytesIO()
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                        "generator": gen.get_state(), "history": result.history, "recipe": asdict(recipe)}, buf)
            atomic_write_bytes(ckpt, buf.getvalue())
    bar.close()
    result.seconds = time.perf_counter() - t_start
    result.images_per_second = seen / result.seconds if result.seconds > 0 else 0.0
    return result


def recipe_with(name_or_recipe: str | Recipe, **overrides: Any) -> Recipe:
    """A named recipe (:data:`RECIPES`) with some fields replaced, e.g. ``recipe_with("cifar10", epochs=30)``."""
    if isinstance(name_or_recipe, str) and name_or_recipe not in RECIPES:
        raise ValueError(f"unknown recipe {name_or_recipe!r}; choose one of {sorted(RECIPES)}")
    r = RECIPES[name_or_recipe] if isinstance(name_or_recipe, str) else name_or_recipe
    if "milestones" in overrides:
        overrides["milestones"] = tuple(overrides["milestones"])
    return replace(r, **overrides)
