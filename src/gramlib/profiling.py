"""Model cost: MACs and parameters (fvcore), accuracy density, CPU/GPU latency.

MACs: fvcore counts one fused multiply-add as one "flop". Its default total also
adds BatchNorm, pooling and other elementwise work; published MAC figures (and
the paper's) count convolutions and linear layers only, so :func:`count_macs`
sums just those operators (torchvision MobileNetV2-1.0 at 224: 300.8 M, as
published, instead of fvcore's 314 M total).

:func:`count_cost` is the reference. :func:`count_cost_by_shapes` gives the same three numbers for a SwiftNet
from the shapes its modules see in one forward pass, without fvcore's trace, several times faster on a pruning
profile (``python benchmarks/count_speed.py`` prints both). Pruning profiles and search candidates use it; the
trained models of the tables are counted by fvcore, and tests hold the two equal.
"""


from __future__ import annotations

import logging
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from fvcore.nn import FlopCountAnalysis, parameter_count
from torch import nn

def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux; else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: fvcore operator names that are convolutions or matrix products.
MAC_OPERATORS = frozenset({"conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum"})


@dataclass(frozen=True)
class Cost:
    macs: int              #: conv + linear multiply-accumulates for one image
    params: int            #: trainable and buffer-free parameter count
    macs_all_ops: int      #: fvcore's total, BatchNorm and pooling included

    @property
    def mmacs(self) -> float:
        return self.macs / 1e6


def _example_input(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    p = next(model.parameters())
    return torch.zeros((1, *input_shape), dtype=p.dtype, device=p.device)


def count_cost(model: nn.Module, input_shape: tuple[int, int, int]) -> Cost:
    """MACs (conv + linear, per image) and parameters of ``model`` for an input of shape (C, H, W)."""
    was_training = model.training
    model.eval()
    try:
        fca = FlopCountAnalysis(model, (_example_input(model, input_shape),))
        fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        by_op = fca.by_operator()
        macs = sum(v for k, v in by_op.items() if k in MAC_OPERATORS)
        total = fca.total()
    finally:
        model.train(was_training)
    return Cost(macs=int(macs), params=int(parameter_count(model)[""]), macs_all_ops=int(total))


#: leaf modules whose work fvcore's default count leaves out (max and average pooling, activations, dropout)
_UNCOUNTED_LEAVES = (nn.MaxPool2d, nn.AvgPool2d, nn.ReLU, nn.ReLU6, nn.ELU, nn.Dropout, nn.Identity, nn.Flatten)


_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)  # an empty one (no adapter, an identity DAG) does nothing


def count_cost_by_shapes(model: nn.Module, input_shape: tuple[int, int, int]) -> Cost:
    """:func:`count_cost`'s numbers from the shapes each module sees in one forward pass, without fvcore's trace.

    Counts what fvcore's default handles count for these modules: a convolution's or linear layer's
    multiply-accumulates, 2 per element for an affine BatchNorm in eval mode (1 without affine), 1 per input
    element for adaptive average pooling. Work done by functional calls inside a module's ``forward`` (concatenation,
    padding, additions: none of which fvcore counts) is invisible to it, so it is exact only for models whose
    counted operators are all modules: SwiftNets (tests compare it with fvcore over many architectures and
    inputs), not torchvision's MobileNetV2 (its average pool is a function call).

    Args:
        model: on any device (not the meta device: its Python reference kernels are slower than fvcore).
        input_shape: (C, H, W).

    Raises:
        TypeError: not a SwiftNet.
        ValueError: a leaf module this counter does not know (its count could differ from fvcore's).
    """
    from .model import ELU, SwiftNet  # a lazy import: model imports fused, which needs nothing from here

    if not isinstance(model, SwiftNet):
        raise TypeError(f"count_cost_by_shapes counts SwiftNets only, got {type(model).__name__}; use count_cost")

    counted = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.AdaptiveAvgPool2d)
    for name, m in model.named_modules():
        if next(m.children(), None) is None and not isinstance(m, (*counted, *_UNCOUNTED_LEAVES, ELU, *_CONTAINERS)):
            raise ValueError(f"count_cost_by_shapes does not know module {name!r} ({type(m).__name__}); use count_cost")
    counts = {"macs": 0, "other": 0}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):  # fvcore: batch × prod(weight shape) × output map area
            counts["macs"] += module.weight.numel() * output.shape[0] * output.shape[2] * output.shape[3]
        elif isinstance(module, nn.Linear):  # batch × in × out
            counts["macs"] += inputs[0].numel() * module.out_features
        elif isinstance(module, nn.BatchNorm2d):  # eval mode: scale and shift each element
            counts["other"] += output.numel() * (2 if module.affine else 1)
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            counts["other"] += inputs[0].numel()

    was_training = model.training
    model.eval()
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(_example_input(model, input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Cost(macs=int(counts["macs"]), params=int(params), macs_all_ops=int(counts["macs"] + counts["other"]))


def count_macs(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    return count_cost(model, input_shape).macs


def accuracy_density(accuracy_percent: float, macs: float) -> float:
    """Accuracy density (paper Table 1): accuracy in % per million MACs."""
    if macs <= 0:
        raise ValueError(f"MACs must be positive, got {macs}")
    return accuracy_percent / (macs / 1e6)


@contextmanager
def num_threads(n: int | None) -> Iterator[int]:
    """Temporarily set torch's intra-op thread count (None: leave it)."""
    old = torch.get_num_threads()
    if n is not None:
        if n < 1:
            raise ValueError(f"thread count must be >= 1, got {n}")
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    threads: int
    device: str


def measure_latency(model: nn.Module, input_shape: tuple[int, int, int], *, runs: int = 50, warmup: int = 10,
                    threads: int | None = None) -> Latency:
    """Batch-1 inference latency: ``warmup`` untimed runs, then the median of ``runs`` timed runs.

    Args:
        model: any module; measured in eval mode on the device of its parameters.
        input_shape: (C, H, W).
        runs: timed repetitions (>= 1).
        warmup: untimed repetitions first (allocator, caches, cuDNN autotune).
        threads: intra-op CPU threads during the measurement (None: current setting).
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    was_training = model.training
    model.eval()
    x = _example_input(model, input_shape)
    cuda = x.is_cuda
    times = []
    try:
        with num_threads(threads) as nt, torch.inference_mode():
            for i in range(warmup + runs):
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(x)
                if cuda:
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
    finally:
        model.train(was_training)
    q = statistics.quantiles(times, n=10) if len(times) > 1 else [times[0]] * 9
    return Latency(statistics.median(times), q[0], q[-1], runs, nt, str(x.device))


logging.getLogger("fvcore").setLevel(logging.ERROR)
