"""The search space: how many hierarchies, DAGs and nodes, and what a node may do.

A node operation is written ``"conv{k}x{k}-{filters}"`` (e.g. ``"conv3x3-64"``):
a k×k convolution with that many output filters, followed by BatchNorm and
ELU (paper §3.2). Node 0 of every DAG is the DAG's input and has no operation.
What surrounds the DAGs (stem, down-sampling, wiring rules) is the
:class:`~gramlib.skeleton.Skeleton`. See ``docs/interpretation.md`` for every
choice the paper leaves open.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from .skeleton import Skeleton, SpaceError, as_skeleton

#: The paper's node-operation menu (§3.2).
PAPER_OPS: tuple[str, ...] = ("conv1x1-32", "conv1x1-64", "conv1x1-128", "conv3x3-32", "conv3x3-64")

_OP_RE = re.compile(r"^conv(\d+)x(\d+)-(\d+)$")

NORMALIZATIONS = ("row", "dag")
PRUNE_REFERENCES = ("row_max", "absolute")
#: the skeleton's fields as files written before :class:`Skeleton` stored them, flat in the space
_FLAT_SKELETON_KEYS = ("stem_channels", "pool", "combine", "dag_output", "channel_multiple")


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
        out_degree: b, the expected number of kept out-edges per reached node
            when sampling; each row of the weight matrix sums to b.
        normalization: Z_t of Algorithm 1, per source node ("row") or per DAG.
        skeleton: stem, down-sampling and wiring rules, with one down-sampling
            entry per hierarchy, e.g. ``layout("stem2-pool-before", 3, stem_channels=16)``;
            a dict is read with :meth:`Skeleton.from_dict`. None (default):
            ``layout("pool-between", hierarchies)``.
        extra: free-form notes, ignored by comparisons.
    """

    hierarchies: int = 3
    dags_per_hierarchy: int = 3
    nodes: int = 30
    ops: tuple[str, ...] = PAPER_OPS
    filter_cap: int | None = None
    out_degree: float = 1.0
    normalization: str = "row"
    skeleton: Skeleton = None  # type: ignore[assignment]  # None becomes the default layout in __post_init__
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        checks = [
            (self.hierarchies >= 1, f"hierarchies must be >= 1, got {self.hierarchies}"),
            (self.dags_per_hierarchy >= 1, f"dags_per_hierarchy must be >= 1, got {self.dags_per_hierarchy}"),
            (self.nodes >= 2, f"nodes must be >= 2 (input node + at least one operation), got {self.nodes}"),
            (len(self.ops) > 0, "the node operation menu (ops) is empty"),
            (self.filter_cap is None or self.filter_cap >= 1, f"filter_cap must be >= 1 or None, got {self.filter_cap}"),
            (self.out_degree > 0, f"out_degree must be > 0, got {self.out_degree}"),
            (self.normalization in NORMALIZATIONS, f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise SpaceError(msg)
        for op in self.ops:
            parse_op(op)
        object.__setattr__(self, "skeleton", as_skeleton(self.skeleton, self.hierarchies))

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
        d.update(ops=list(self.ops), skeleton=self.skeleton.to_dict())
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        """Inverse of :meth:`to_dict`; also reads the flat skeleton fields of files written before
        :class:`Skeleton` existed (``stem_channels``, ``pool``, ``combine``, ``dag_output``,
        ``channel_multiple``), which always meant the "pool-between" layout."""
        d = dict(d)
        flat = {k: d.pop(k) for k in _FLAT_SKELETON_KEYS if k in d}
        if flat:
            if "skeleton" in d:
                raise SpaceError(f"a search space has either a 'skeleton' or the old flat fields {sorted(flat)}, "
                                 "not both")
            d["skeleton"] = Skeleton.from_flat(flat, d.get("hierarchies", cls.hierarchies))
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise SpaceError(f"unknown search-space fields: {sorted(unknown)}")
        return cls(**d)
