"""SwiftNet: build a PyTorch model from an :class:`~gramlib.architecture.Architecture`.

Layout (paper §3.2, §4.1), decoded from the architecture's
:class:`~gramlib.skeleton.Skeleton`::

    [input adapter: k × (3×3 conv, stride 2, BN, ELU)]   # "ImageNet adaptation", large inputs only
    stem: 3×3 conv (stride 1 or 2), BN, ELU
    down-sampling before hierarchy 1 (none, 2×2 max/avg pool or stride-2 conv)
    hierarchy 1: m DAGs in parallel, outputs concatenated
    ...
    down-sampling before hierarchy h
    hierarchy h
    global average pool → linear classifier           # the last layer has no BatchNorm
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import fused
from .architecture import Architecture, Dag
from .space import parse_op


def _elu_forward(x: torch.Tensor) -> torch.Tensor:
    # ELU(x) = max(x, exp(min(x, 0)) - 1), since exp(x) - 1 >= x everywhere; ATen's CPU ELU calls a scalar
    # expm1 and costs ~8x a vectorised exp, which made ELU a third of a small SwiftNet's training step
    return torch.maximum(x, x.clamp(max=0).exp_().sub_(1))


class _ELUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = _elu_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, 1.0, 1.0, 1.0, True, y)  # ATen's own gradient, from the output


class ELU(nn.Module):
    """ELU (alpha 1), numerically ``nn.ELU`` (within float rounding), faster on CPU.

    Exports (ONNX, where runtimes have a fused Elu kernel) see ``F.elu``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return F.elu(x)
        if torch.is_grad_enabled() and x.requires_grad:
            return _ELUFunction.apply(x)
        return _elu_forward(x)


class ConvBNAct(nn.Sequential):
    """k×k convolution (no bias), BatchNorm, ELU: every node of the search space.

    In training on the CPU, BatchNorm + ELU run as one fused kernel (:mod:`gramlib.fused`); the modules,
    their parameters and checkpoint keys are the same either way.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            ELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, bn, act = self
        x = conv(x)
        y = fused.bn_elu(bn, x)
        return act(bn(x)) if y is None else y


#: Skeleton.downsample name → factory(channels) of the module placed before a hierarchy. "none" places no
#: module at all, so that the "pool-between" layout keeps the module indices (and checkpoint keys) it always had.
#: ceil_mode: a 1×1 or odd map pools to ceil(s/2), never to 0.
DOWNSAMPLING: dict[str, Callable[[int], nn.Module] | None] = {
    "none": None,
    "max": lambda c: nn.MaxPool2d(2, 2, ceil_mode=True),
    "avg": lambda c: nn.AvgPool2d(2, 2, ceil_mode=True),
    "conv": lambda c: ConvBNAct(c, c, 3, stride=2),
}


class DagBlock(nn.Module):
    """One DAG of a hierarchy. Node 0 is the block's input; dead nodes are not built.

    Args:
        dag: the DAG's operations and edges.
        in_channels: channels of the block's input.
        combine: "concat" (concatenate a node's inputs, then convolve) or "sum"
            (zero-pad the inputs to the widest, add, then convolve).
        dag_output: "leaves" or "last" (see :class:`~gramlib.skeleton.Skeleton`).
    """

    def __init__(self, dag: Dag, in_channels: int, combine: str = "concat", dag_output: str = "leaves"):
        super().__init__()
        self.combine = combine
        live = dag.live_nodes(dag_output)
        live_set = set(live)
        channels = {0: in_channels}
        self.order: list[int] = live[1:]
        self.inputs: dict[int, list[int]] = {}
        self.nodes = nn.ModuleDict()
        for j in self.order:
            preds = [i for i in dag.predecessors(j) if i in live_set]
            kernel, filters = parse_op(dag.ops[j])
            widths = [channels[i] for i in preds]
            cin = sum(widths) if combine == "concat" else max(widths)
            self.nodes[str(j)] = ConvBNAct(cin, filters, kernel)
            self.inputs[j] = preds
            channels[j] = filters
        self.outputs = dag.output_nodes(dag_output)
        self.out_channels = sum(channels[o] for o in self.outputs)
        # free a feature map once its last consumer has run (keeps peak memory down in deep DAGs)
        last_use: dict[int, int] = {}
        for j in self.order:
            for i in self.inputs[j]:
                last_use[i] = j
        self._release = {j: [i for i, t in last_use.items() if t == j and i not in self.outputs] for j in self.order}

    def _merge(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if len(xs) == 1:
            return xs[0]
        if self.combine == "concat":
            return torch.cat(xs, dim=1)
        width = max(x.shape[1] for x in xs)
        out = None
        for x in xs:
            x = x if x.shape[1] == width else F.pad(x, (0, 0, 0, 0, 0, width - x.shape[1]))
            out = x if out is None else out + x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = {0: x}
        for j in self.order:
            feats[j] = self.nodes[str(j)](self._merge([feats[i] for i in self.inputs[j]]))
            for i in self._release[j]:
                del feats[i]
        return self._merge_out([feats[o] for o in self.outputs])

    @staticmethod
    def _merge_out(xs: list[torch.Tensor]) -> torch.Tensor:
        return xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)


class Hierarchy(nn.Module):
    """m DAGs run on the same input; their outputs are concatenated (Inception-like)."""

    def __init__(self, dags: tuple[Dag, ...], in_channels: int, combine: str, dag_output: str):
        super().__init__()
        self.dags = nn.ModuleList(DagBlock(d, in_channels, combine, dag_output) for d in dags)
        self.out_channels = sum(d.out_channels for d in self.dags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([d(x) for d in self.dags], dim=1)


class SwiftNet(nn.Module):
    """A network generated from the meta-graph.

    Args:
        arch: the architecture value.
        num_classes: classifier outputs.
        in_channels: image channels (3 for RGB, 1 for MNIST).
        adapter_layers: stride-2 3×3 conv layers placed before the stem, the
            paper's "ImageNet adaptation" (see :func:`adapter_layers_for`).
    """

    def __init__(self, arch: Architecture, num_classes: int = 10, in_channels: int = 3, adapter_layers: int = 0):
        super().__init__()
        ints = (num_classes, in_channels, adapter_layers)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints) or num_classes < 1 or in_channels < 1 \
                or adapter_layers < 0:
            raise ValueError(f"bad model arguments: num_classes={num_classes}, in_channels={in_channels}, "
                             f"adapter_layers={adapter_layers}")
        self.arch = arch
        sk = arch.skeleton
        c = in_channels
        adapter = []
        for _ in range(adapter_layers):
            adapter.append(ConvBNAct(c, sk.stem_channels, 3, stride=2))
            c = sk.stem_channels
        self.adapter = nn.Sequential(*adapter)
        self.stem = ConvBNAct(c, sk.stem_channels, 3, stride=sk.stem_stride)
        c = sk.stem_channels
        stages: list[nn.Module] = []
        for h, kind in enumerate(sk.downsample):
            make = DOWNSAMPLING[kind]
            if make is not None:
                stages.append(make(c))
            block = Hierarchy(arch.hierarchy(h), c, sk.combine, sk.dag_output)
            stages.append(block)
            c = block.out_channels
        self.hierarchies = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self.feature_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.hierarchies(self.stem(self.adapter(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))


def adapter_layers_for(input_size: int, base: int = 32) -> int:
    """Stride-2 adapter layers that bring ``input_size`` near the CIFAR scale ``base`` (96 → 2, 128 → 2, 224 → 3, 32 → 0)."""
    if input_size < 1:
        raise ValueError(f"input size must be positive, got {input_size}")
    return max(0, round(math.log2(input_size / base)))


def build_model(arch: Architecture, num_classes: int = 10, in_channels: int = 3, *,
                input_size: int | None = None, adapter_layers: int | None = None) -> SwiftNet:
    """Architecture → SwiftNet.

    Args:
        arch: the architecture value.
        num_classes: classifier outputs.
        in_channels: image channels.
        input_size: if given and ``adapter_layers`` is None, the adapter depth is
            :func:`adapter_layers_for` ``(input_size)``.
        adapter_layers: explicit adapter depth (overrides ``input_size``).
    """
    if adapter_layers is None:
        adapter_layers = adapter_layers_for(input_size) if input_size is not None else 0
    return SwiftNet(arch, num_classes, in_channels, adapter_layers)
