"""The search space: how many hierarchies, DAGs and nodes, and what a node may do.

A node operation is written ``"conv{k}x{k}-{filters}"`` (e.g. ``"conv3x3-64"``):
a k×k convolution with that many output filters, followed by BatchNorm and
ELU (paper §3.2). Node 0 of every DAG is the DAG's input and has no operation.
See ``docs/interpretation.md`` for every choice the paper leaves open.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: The paper's node-operation menu (§3.2).
PAPER_OPS: tuple[str, ...] = ("conv1x1-32", "conv1x1-64", "conv1x1-128", "conv3x3-32", "conv3x3-64")

_OP_RE = re.compile(r"^conv(\d+)x(\d+)-(\d+)$")

COMBINE_MODES = ("concat", "sum")
DAG_OUTPUTS = ("leaves", "last")
POOLS = ("max", "avg")
NORMALIZATIONS = ("row", "dag")
PRUNE_REFERENCES = ("row_max", "absolute")


class SpaceError(ValueError):
    """A search-space parameter is out of range or malformed."""


def parse_op(op: str) -> tuple[int, int]:
    """``"conv3x3-64"`` → ``(kernel=3, filters=64)``."""
    m = _OP_RE.match(op)
    if not m or m.group(1) != m.group(2) or int(m.group(1)) % 2 == 0 or int(m.group(3)) <= 0:
        raise SpaceError(f"bad node operation {op!r}: expected 'conv<k>x<k>-<filters>' with odd k, e.g. 'conv3x3-64'")
    return int(m.group(1)), int(m.group(3))


def op_name(kernel: int, filters: int) -> str:
    return f"conv{kernel}x{kernel}-{filters}"


@dataclass(frozen=True)
class SearchSpace:
    """Meta-graph shape and the macro skeleton every sampled network shares.

    Args:
        hierarchies: h, the number of down-sampling-separated stages.
        dags_per_hierarchy: m, complete DAGs run in parallel inside a hierarchy.
        nodes: n, nodes per DAG, node 0 being the DAG input.
        ops: node-operation menu, e.g. :data:`PAPER_OPS`.
        filter_cap: maximum filters of any node (None = no cap); paper §3.3.
        stem_channels: width of the 3×3 stem convolution before hierarchy 1.
        pool: down-sampling between hierarchies ("max" or "avg"), 2×2, stride 2.
        combine: how a node merges several inputs: "concat" (concatenate, then
            one convolution = eq. 4 exactly) or "sum" (zero-pad to the widest,
            add, then convolve: cheaper, shares weights across inputs).
        dag_output: "leaves" (concatenate all nodes without successors, as the
            authors' follow-up code) or "last" (node n-1 only).
        out_degree: b, the expected number of kept out-edges per reached node
            when sampling; each row of the weight matrix sums to b.
        normalization: Z_t of Algorithm 1, per source node ("row") or per DAG.
        channel_multiple: node widths are rounded to a multiple of this.
    """

    hierarchies: int = 3
    dags_per_hierarchy: int = 3
    nodes: int = 30
    ops: tuple[str, ...] = PAPER_OPS
    filter_cap: int | None = None
    stem_channels: int = 32
    pool: str = "max"
    combine: str = "concat"
    dag_output: str = "leaves"
    out_degree: float = 1.0
    normalization: str = "row"
    channel_multiple: int = 4
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        checks = [
            (self.hierarchies >= 1, f"hierarchies must be >= 1, got {self.hierarchies}"),
            (self.dags_per_hierarchy >= 1, f"dags_per_hierarchy must be >= 1, got {self.dags_per_hierarchy}"),
            (self.nodes >= 2, f"nodes must be >= 2 (input node + at least one operation), got {self.nodes}"),
            (len(self.ops) > 0, "the node operation menu (ops) is empty"),
            (self.filter_cap is None or self.filter_cap >= 1, f"filter_cap must be >= 1 or None, got {self.filter_cap}"),
            (self.stem_channels >= 1, f"stem_channels must be >= 1, got {self.stem_channels}"),
            (self.pool in POOLS, f"pool must be one of {POOLS}, got {self.pool!r}"),
            (self.combine in COMBINE_MODES, f"combine must be one of {COMBINE_MODES}, got {self.combine!r}"),
            (self.dag_output in DAG_OUTPUTS, f"dag_output must be one of {DAG_OUTPUTS}, got {self.dag_output!r}"),
            (self.out_degree > 0, f"out_degree must be > 0, got {self.out_degree}"),
            (self.normalization in NORMALIZATIONS, f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"),
            (self.channel_multiple >= 1, f"channel_multiple must be >= 1, got {self.channel_multiple}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise SpaceError(msg)
        for op in self.ops:
            parse_op(op)

    @property
    def num_dags(self) -> int:
        """K = h·m."""
        return self.hierarchies * self.dags_per_hierarchy

    def capped(self, op: str) -> tuple[int, int]:
        """(kernel, filters) of ``op`` after the filter cap."""
        k, f = parse_op(op)
        return k, f if self.filter_cap is None else min(f, self.filter_cap)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ops"] = list(self.ops)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise SpaceError(f"unknown search-space fields: {sorted(unknown)}")
        return cls(**d)
