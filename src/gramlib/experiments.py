"""Building blocks the replication notebooks call: data for a run, train-and-score, pruning profiles, baselines.

Notebooks narrate and plot; the computing happens here so that it is tested
and shared. Every training run checkpoints per epoch under ``ckpt_dir`` keyed
by everything that defines it, so an interrupted notebook re-run continues
where it stopped and a finished one is not trained again.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torchvision
from torch import nn

from .data import ImageData, load_image_folder, load_split, normalize_stats
from .io import atomic_write_json, run_key
from .metagraph import MetaGraph
from .profiling import accuracy_density, count_cost, measure_latency
from .shape import level_profile
from .train import Recipe, evaluate, Normalizer, resolve_device, train

log = logging.getLogger(__name__)


def subsample(data: ImageData, limit: int | None, seed: int = 0) -> ImageData:
    """A seeded random subset of at most ``limit`` images (all of them if None)."""
    if limit is None or limit >= len(data):
        return data
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:limit]
    return data.subset(idx.sort().values)


def load_train_test(dataset: str, *, input_size: int | None = None, train_limit: int | None = None,
                    test_limit: int | None = None, seed: int = 0, data_dir: str | None = None,
                    mirror: str | None = "auto", root: str = "data") -> tuple[ImageData, ImageData]:
    """Train and test splits of ``dataset`` as tensors, optionally resized and subsampled.

    Args:
        dataset: a :data:`gramlib.data.DATASETS` name, or "imagenet" with ``data_dir``.
        data_dir: for "imagenet": an ImageFolder root holding ``train/`` and ``val/``.
    """
    if dataset == "imagenet":
        if not data_dir:
            raise ValueError("dataset 'imagenet' needs data_dir: a folder with train/ and val/ ImageFolder trees")
        size = input_size or 224
        tr = load_image_folder(Path(data_dir) / "train", size, root=root)
        te = load_image_folder(Path(data_dir) / "val", size, root=root)
    else:
        tr = load_split(dataset, "train", image_size=input_size, mirror=mirror, root=root)
        te = load_split(dataset, "test", image_size=input_size, mirror=mirror, root=root)
    return subsample(tr, train_limit, seed), subsample(te, test_limit, seed + 1)


def fit_and_score(name: str, build: Callable[[], nn.Module], train_data: ImageData, test_data: ImageData,
                  recipe: Recipe, *, key: dict[str, Any], seed: int = 0, device: str = "auto",
                  ckpt_dir: str | Path = "data/checkpoints", topk: tuple[int, ...] = (1,),
                  latency_runs: int = 50, latency_threads: Iterable[int] = (1,), channels_last: bool = True,
                  progress: bool = True, records: Iterable[str | Path] = (),
                  record_to: str | Path | None = None) -> dict[str, Any]:
    """Seed, build, count, train (resumable), evaluate and time one model; returns one table row.

    Args:
        name: row label, e.g. "SwiftNet-0.5".
        build: makes the untrained model (called after seeding).
        key: what defines the model (architecture, options): part of the checkpoint name. Rows with the
            same key, recipe, data and seed are one run: a later row reads the earlier row's checkpoint.
        topk: accuracies to report, in %, e.g. (1, 5).
        latency_threads: CPU thread counts at which batch-1 latency is measured.
        records: folders of finished rows (a pipeline part stage's, :mod:`gramlib.parts`): a row recorded
            there for this very run (key, recipe, training data, seed), scored on as many test images and with
            every accuracy of ``topk``, is returned as recorded, untrained (under this row's name).
        record_to: folder to record this row in once it is finished.
    """
    c, h, w = train_data.x.shape[1:]
    run = run_key(key=key, recipe=recipe, data=(train_data.name, len(train_data), h), seed=seed)
    record = f"{name}-{run}.json"
    for folder in records:
        row = _recorded_row(Path(folder), name, run, len(test_data), topk)
        if row is not None:
            print(f"{_summary_line(row)} in an earlier stage (recorded in {os.path.relpath(folder)})", flush=True)
            return row
    torch.manual_seed(seed)
    model = build()
    cost = count_cost(model, (c, h, w))
    ckpt = Path(ckpt_dir) / f"{name}-{run}.pt"
    if not ckpt.exists():  # the same run under another row's name (two budgets that prune to one model): reuse it
        ckpt = next(iter(sorted(Path(ckpt_dir).glob(f"*-{run}.pt"))), ckpt)
    mean, std = normalize_stats(train_data)
    dev = resolve_device(device)
    res = train(model, train_data.x, train_data.y, recipe, mean=mean, std=std, device=dev, seed=seed,
                checkpoint=ckpt, progress=progress, desc=name, channels_last=channels_last)
    ev = evaluate(model, test_data.x, test_data.y, Normalizer(mean, std, dev), topk=topk,
                  channels_last=channels_last)
    row: dict[str, Any] = {"model": name}
    for k in topk:
        row[f"top{k}"] = 100.0 * ev[f"top{k}"]
    row.update({"mmacs": cost.mmacs, "mparams": cost.params / 1e6,
                "density": accuracy_density(row["top1"], cost.macs) if cost.macs else math.nan})
    model_cpu = model.to("cpu", memory_format=torch.contiguous_format)
    for t in latency_threads:
        row[f"latency_ms_{t}t"] = measure_latency(model_cpu, (c, h, w), runs=latency_runs, warmup=10, threads=t).median_ms
    last = res.history[-1] if res.history else {}
    row.update({"epochs": recipe.epochs, "train_images": len(train_data), "test_images": len(test_data),
                "train_seconds": last.get("seconds", 0.0), "final_train_loss": last.get("train_loss", math.nan),
                "final_train_acc": 100.0 * last.get("train_acc", math.nan),
                "train_images_per_s": res.images_per_second or math.nan})
    # the notebook's record of this training: one line (the progress bar went to the terminal)
    print(_summary_line(row) + (f" ({res.images_per_second:.0f} img/s)" if res.images_per_second
                                else " (from checkpoint)"), flush=True)
    if record_to is not None:
        atomic_write_json(Path(record_to) / record, row)
    return row


def _recorded_row(folder: Path, name: str, run: str, test_images: int,
                  topk: Iterable[int]) -> dict[str, Any] | None:
    """Run ``run``'s row recorded in ``folder`` (as ``name``, else as another row: two budgets that prune to one
    model, as checkpoints), relabelled ``name``; None if there is none scored on ``test_images`` images with every
    accuracy of ``topk`` (the run key covers the training, not the scoring)."""
    exact = folder / f"{name}-{run}.json"
    for f in [exact] if exact.exists() else sorted(folder.glob(f"*-{run}.json")):
        row = json.loads(f.read_text())
        if row.get("test_images") == test_images and all(f"top{k}" in row for k in topk):
            return {**row, "model": name}
    return None


def _summary_line(row: dict[str, Any]) -> str:
    """A finished row in one line, the notebook's record of its training (the progress bar went to the terminal)."""
    return (f"{row['model']}: top-1 {row['top1']:.2f} % | {row['epochs']} epochs on {row['train_images']} images | "
            f"{row['mmacs']:.2f} M MACs, {row['mparams']:.3f} M params | trained in {row['train_seconds']:.0f} s")


def pruning_profile(mg: MetaGraph, levels: Iterable[float], input_shape: tuple[int, int, int] = (3, 32, 32),
                    num_classes: int = 10, reference: str = "absolute", scale: float = 1.0) -> list[dict[str, Any]]:
    """MACs, parameters, edges and live nodes of the pruned architecture at each level (Figure 5);
    :func:`gramlib.shape.level_profile` with this module's positional order."""
    return level_profile(mg, levels, reference=reference, input_shape=input_shape, num_classes=num_classes, scale=scale)


def level_for_budget(profile: list[dict[str, Any]], budget_mmacs: float) -> float:
    """The lowest pruning level whose model fits ``budget_mmacs`` (the largest model within budget).

    Raises:
        ValueError: no level of the profile fits the budget.
    """
    fits = [r["level"] for r in profile if r["mmacs"] <= budget_mmacs]
    if not fits:
        smallest = min(r["mmacs"] for r in profile)
        raise ValueError(f"no pruning level fits {budget_mmacs} M MACs; the smallest profiled model has {smallest:.2f} M")
    return min(fits)


def mobilenet_v2(width_mult: float, num_classes: int, *, small_input: bool = False, round_nearest: int = 8) -> nn.Module:
    """torchvision MobileNetV2 at a width multiplier.

    Args:
        small_input: adapt to 32×32 inputs the usual way: stride 1 in the stem and
            in the first stride-2 stage (total stride 8 instead of 32).
        round_nearest: channel counts are multiples of this (torchvision's default 8;
            smaller values let MAC matching land closer to a target).
    """
    m = torchvision.models.mobilenet_v2(width_mult=width_mult, num_classes=num_classes, round_nearest=round_nearest)
    if small_input:
        m.features[0][0].stride = (1, 1)
        m.features[2].conv[1][0].stride = (1, 1)  # first inverted-residual block with stride 2
    return m


def plain_cnn(width: float, num_classes: int, in_channels: int = 3) -> nn.Module:
    """A plain VGG-style CNN (the speed reference for "a CNN of equal MACs").

    Layout as the cpu SwiftNets' skeleton: a stride-2 3×3 stem, then three stages of
    two 3×3 conv-BN-ReLU layers at widths ``w, 2w, 4w`` (``w = round(16 · width)``),
    each stage after a 2×2 max-pool, global average pooling and a linear classifier.

    Args:
        width: width factor (1.0: 16/32/64 channels).
    """
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    w = max(1, round(16 * width))

    def cbr(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    layers: list[nn.Module] = cbr(in_channels, w, 2)
    cin = w
    for k in (1, 2, 4):
        layers += [nn.MaxPool2d(2, ceil_mode=True), *cbr(cin, k * w), *cbr(k * w, k * w)]
        cin = k * w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)
