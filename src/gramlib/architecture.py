"""The architecture value: a plain, JSON-serialisable description of a network.

Search (:mod:`gramlib.metagraph`), pruning, counting, drawing and model
building (:mod:`gramlib.model`) all meet here. An :class:`Architecture` holds,
for each of the h·m DAGs (hierarchy-major order), one operation per node and
the kept edges, plus the macro :class:`~gramlib.skeleton.Skeleton` (stem,
down-sampling, wiring rules).
Node 0 of a DAG is its input; node numbering always spans the full n nodes so
that an architecture can be compared with the meta-graph it came from.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from .skeleton import Skeleton, as_skeleton
from .space import SearchSpace, SpaceError, op_name, parse_op

INPUT = "input"  #: the operation name of node 0
FORMAT = "gramlib.architecture/2"
#: files written before the skeleton existed: flat stem_channels / pool / combine / dag_output
FORMAT_V1 = "gramlib.architecture/1"


def _round_channels(c: float, multiple: int) -> int:
    return max(multiple, int(math.floor(c / multiple + 0.5)) * multiple)


@dataclass(frozen=True)
class Dag:
    """One DAG: ``ops[i]`` is node i's operation (``ops[0] == "input"``), edges are (i, j) with i < j."""

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "edges", tuple(sorted({(int(i), int(j)) for i, j in self.edges})))
        n = len(self.ops)
        if n < 2 or self.ops[0] != INPUT:
            raise SpaceError(f"a DAG needs >= 2 nodes and node 0 must be {INPUT!r}; got ops {self.ops[:3]}...")
        for op in self.ops[1:]:
            parse_op(op)
        for i, j in self.edges:
            if not 0 <= i < j < n:
                raise SpaceError(f"edge {i}->{j} is not a forward edge of a {n}-node DAG")

    @property
    def n(self) -> int:
        return len(self.ops)

    def predecessors(self, j: int) -> list[int]:
        return [a for a, b in self.edges if b == j]

    def live_nodes(self, dag_output: str = "leaves") -> list[int]:
        """Nodes that carry signal: reachable from node 0 and, for ``dag_output="last"``, reaching node n-1.

        Node 0 is always live. A DAG whose only live node is 0 is an identity.
        """
        reach = {0}
        for i, j in self.edges:  # edges are sorted by source, so one pass suffices
            if i in reach:
                reach.add(j)
        if dag_output == "last":
            last = self.n - 1
            if last not in reach:
                return [0]
            back = {last}
            for i, j in reversed(self.edges):
                if j in back:
                    back.add(i)
            reach &= back
        return sorted(reach)

    def output_nodes(self, dag_output: str = "leaves") -> list[int]:
        """Nodes concatenated to form the DAG's output ([0] for an identity DAG)."""
        live = self.live_nodes(dag_output)
        if live == [0]:
            return [0]
        if dag_output == "last":
            return [self.n - 1]
        live_set = set(live)
        has_succ = {i for i, j in self.edges if i in live_set and j in live_set}
        return [v for v in live if v not in has_succ]

    def without_dead_nodes(self, dag_output: str = "leaves") -> Dag:
        live = set(self.live_nodes(dag_output))
        return Dag(self.ops, tuple((i, j) for i, j in self.edges if i in live and j in live))

    def is_identity(self, dag_output: str = "leaves") -> bool:
        return self.live_nodes(dag_output) == [0]


@dataclass(frozen=True)
class Architecture:
    """A sampled or pruned network: h·m DAGs (hierarchy-major) and the macro skeleton.

    Hashable and comparable; ``Architecture.from_json(a.to_json()) == a``.

    Args:
        dags: the h·m DAGs, hierarchy by hierarchy.
        hierarchies: h.
        dags_per_hierarchy: m.
        skeleton: stem, down-sampling (one entry per hierarchy) and wiring rules;
            None (default): ``layout("pool-between", hierarchies)``.
    """

    dags: tuple[Dag, ...]
    hierarchies: int
    dags_per_hierarchy: int
    skeleton: Skeleton = None  # type: ignore[assignment]  # None becomes the default layout in __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "dags", tuple(self.dags))
        if len(self.dags) != self.hierarchies * self.dags_per_hierarchy:
            raise SpaceError(
                f"{len(self.dags)} DAGs given for {self.hierarchies} hierarchies x {self.dags_per_hierarchy} DAGs"
            )
        object.__setattr__(self, "skeleton", as_skeleton(self.skeleton, self.hierarchies))

    # -- the skeleton's wiring, read often enough to be spelled short -----------------
    @property
    def stem_channels(self) -> int:
        return self.skeleton.stem_channels

    @property
    def combine(self) -> str:
        return self.skeleton.combine

    @property
    def dag_output(self) -> str:
        return self.skeleton.dag_output

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_space(cls, space: SearchSpace, dags: Iterable[Dag]) -> Architecture:
        return cls(dags=tuple(dags), hierarchies=space.hierarchies, dags_per_hierarchy=space.dags_per_hierarchy,
                   skeleton=space.skeleton)

    def hierarchy(self, h: int) -> tuple[Dag, ...]:
        m = self.dags_per_hierarchy
        return self.dags[h * m : (h + 1) * m]

    # -- structure ---------------------------------------------------------------------
    def without_dead_nodes(self) -> Architecture:
        """Drop edges into or out of nodes that cannot carry signal (see :meth:`Dag.live_nodes`)."""
        return replace(self, dags=tuple(d.without_dead_nodes(self.dag_output) for d in self.dags))

    @property
    def num_edges(self) -> int:
        return sum(len(d.edges) for d in self.dags)

    @property
    def num_active_nodes(self) -> int:
        """Operation nodes (node 0 excluded) that carry signal."""
        return sum(len(d.live_nodes(self.dag_output)) - 1 for d in self.dags)

    def identity_hierarchies(self) -> list[int]:
        """Indices of hierarchies whose every DAG reduces to an identity (the hierarchy only concatenates copies)."""
        return [h for h in range(self.hierarchies)
                if all(d.is_identity(self.dag_output) for d in self.hierarchy(h))]

    def identity_dags(self) -> list[int]:
        """Indices of DAGs that reduce to an identity (no live operation)."""
        return [k for k, d in enumerate(self.dags) if d.is_identity(self.dag_output)]

    def scale_channels(self, factor: float, multiple: int = 4) -> Architecture:
        """Channel up-scaling (factor > 1, paper §3.3) or width-multiplier thinning (factor < 1).

        Every node's filter count (and the stem's) is multiplied by ``factor`` and
        rounded to a multiple of ``multiple`` (at least ``multiple``).
        """
        if not factor > 0 or not math.isfinite(factor):
            raise SpaceError(f"channel scaling factor must be a finite number > 0, got {factor}")

        def scale(op: str) -> str:
            if op == INPUT:
                return op
            k, f = parse_op(op)
            return op_name(k, _round_channels(f * factor, multiple))

        dags = tuple(Dag(tuple(scale(o) for o in d.ops), d.edges) for d in self.dags)
        stem = _round_channels(self.stem_channels * factor, multiple)
        return replace(self, dags=dags, skeleton=replace(self.skeleton, stem_channels=stem))

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "hierarchies": self.hierarchies,
            "dags_per_hierarchy": self.dags_per_hierarchy,
            "skeleton": self.skeleton.to_dict(),
            "dags": [{"ops": list(d.ops), "edges": [list(e) for e in d.edges]} for d in self.dags],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        """Inverse of :meth:`to_dict`; also reads ``gramlib.architecture/1`` files (flat skeleton fields,
        always the "pool-between" layout)."""
        if not isinstance(d, dict):
            raise SpaceError(f"not a gramlib architecture: expected a JSON object, got {type(d).__name__}")
        fmt = d.get("format")
        if fmt not in (FORMAT, FORMAT_V1):
            raise SpaceError(f"not a gramlib architecture (format={fmt!r})")
        try:
            dags = tuple(Dag(tuple(x["ops"]), tuple(tuple(e) for e in x["edges"])) for x in d["dags"])
            h = int(d["hierarchies"])
            skeleton = Skeleton.from_dict(d["skeleton"]) if fmt == FORMAT else Skeleton.from_flat(d, h)
            return cls(dags=dags, hierarchies=h, dags_per_hierarchy=int(d["dags_per_hierarchy"]), skeleton=skeleton)
        except (KeyError, TypeError) as e:
            raise SpaceError(f"malformed architecture: {e!r}") from e

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, s: str) -> Architecture:
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise SpaceError(f"not a gramlib architecture: invalid JSON ({e})") from e
        return cls.from_dict(d)

    def save(self, path: str | Path) -> None:
        from .io import atomic_write_text

        atomic_write_text(path, self.to_json(indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Architecture:
        """Read a :meth:`save` file; a missing, empty or malformed file is a :class:`SpaceError` naming it."""
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as e:
            raise SpaceError(f"cannot read architecture file {path}: {e.strerror or e}") from e
        except SpaceError as e:
            raise SpaceError(f"{path}: {e}") from e
