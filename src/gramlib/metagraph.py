"""The meta-graph: K = h·m complete DAGs whose edge weights accumulate what the search learned.

Three operations, each a plain function of the weights:

* :meth:`MetaGraph.sample` draws a sub-architecture (phase A of the paper's Fig. 2);
* :meth:`MetaGraph.update` applies Algorithm 1 after a candidate was scored (phase C);
* :meth:`MetaGraph.prune` is structure-level pruning (§3.3): keep the edges whose
  weight clears a level, drop dead nodes.

The weights of a DAG form an n×n strictly upper-triangular matrix. With the
default ``normalization="row"`` every row sums to ``out_degree`` b, so
``min(1, w[i, j])`` is the probability that sampling keeps edge i→j once node i
is reached (the authors' follow-up code samples this way).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .architecture import INPUT, Architecture, Dag
from .io import atomic_write_json
from .space import PRUNE_REFERENCES, SearchSpace, SpaceError, op_name

log = logging.getLogger(__name__)

FORMAT = "gramlib.metagraph/1"

#: Algorithm 1's advantage A: the paper's raw η′ − β, or that divided by its running RMS
ADVANTAGES = ("raw", "standardized")


class MetaGraphError(ValueError):
    """A meta-graph file or argument does not fit."""


class PruneError(ValueError):
    """Pruning left a DAG with no path from its input to its output and ``on_empty="error"``."""


@dataclass(frozen=True)
class UpdateRule:
    """Hyper-parameters of Algorithm 1.

    The defaults are the paper's literal reading (``advantage="raw"``,
    ``explore=0``); docs/interpretation.md measures why a search that should
    learn in 1000 iterations needs ``advantage="standardized"`` and ``explore > 0``.

    Args:
        alpha: convergence rate α in exp[α·A] (paper: 0.9).
        gamma: cost penalty γ in η′ = η − γτ (paper: 1 per ms of latency).
        beta_init: initial expected performance β (paper: 0.4).
        beta_momentum: β ← ρ·β + (1−ρ)·η′ after each update (the paper says only
            "moving average of the history performance").
        cost: τ's meaning: "latency_ms" (paper), "log10_macs" (log10(MACs) − 6, the
            follow-up code's cost, deterministic) or "none".
        advantage: A in exp[α·A]: ``"raw"`` is η′ − β (paper); ``"standardized"``
            divides it by a running RMS of past η′ − β, so α is a step in units
            of the reward's own spread, whatever γ, the cost unit or the proxy's
            accuracy scale (the raw rule moves weights ~1 % per iteration when
            accuracies differ by a few points, and by e^α-sized steps when
            latency in ms dominates η′).
        advantage_momentum: ρ of that running mean square.
        explore: ε, the share of a uniform row mixed into the sampler's keep
            probabilities, (1−ε)·min(1, w) + ε·b/(n−1−i), so that a row that
            has concentrated on a wrong edge can still try the others (the
            paper's sampler is ε = 0: an edge never sampled is never updated).
    """

    alpha: float = 0.9
    gamma: float = 1.0
    beta_init: float = 0.4
    beta_momentum: float = 0.9
    cost: str = "latency_ms"
    advantage: str = "raw"
    advantage_momentum: float = 0.99
    explore: float = 0.0

    def __post_init__(self) -> None:
        if self.cost not in ("latency_ms", "log10_macs", "none"):
            raise MetaGraphError(f"cost must be 'latency_ms', 'log10_macs' or 'none', got {self.cost!r}")
        if self.advantage not in ADVANTAGES:
            raise MetaGraphError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if not 0 <= self.beta_momentum < 1:
            raise MetaGraphError(f"beta_momentum must be in [0, 1), got {self.beta_momentum}")
        if not 0 <= self.advantage_momentum < 1:
            raise MetaGraphError(f"advantage_momentum must be in [0, 1), got {self.advantage_momentum}")
        if not 0 <= self.explore < 1:
            raise MetaGraphError(f"explore must be in [0, 1), got {self.explore}")
        if not (math.isfinite(self.alpha) and math.isfinite(self.gamma) and math.isfinite(self.beta_init)):
            raise MetaGraphError("alpha, gamma and beta_init must be finite")


class MetaGraph:
    """K complete DAGs with fixed node operations and learned connection weights.

    Args:
        space: the search space.
        rule: Algorithm 1's hyper-parameters.
        seed: seeds the node operations (the paper's random DAG initialisation)
            and the sampler's random stream.
    """

    def __init__(self, space: SearchSpace, rule: UpdateRule | None = None, seed: int = 0):
        self.space = space
        self.rule = rule or UpdateRule()
        self.seed = int(seed)
        rng = np.random.default_rng([self.seed, 0])
        n, K = space.nodes, space.num_dags
        self.ops: list[tuple[str, ...]] = []
        for _ in range(K):
            picks = rng.integers(len(space.ops), size=n - 1)
            self.ops.append((INPUT,) + tuple(op_name(*space.capped(space.ops[p])) for p in picks))
        self.weights = np.zeros((K, n, n))
        iu = np.triu_indices(n, 1)
        for k in range(K):
            self.weights[k][iu] = 1.0
        self._normalize()
        self.beta = float(self.rule.beta_init)
        self.advantage_ms: float | None = None  # running mean square of η′ − β (advantage="standardized")
        self.iteration = 0
        self._rng = np.random.default_rng([self.seed, 1])

    # -- weights --------------------------------------------------------------------
    def _normalize(self) -> None:
        """Z_t: rows (or whole DAGs) rescaled to the total mass of b per source node."""
        b, n = self.space.out_degree, self.space.nodes
        if self.space.normalization == "row":
            sums = self.weights.sum(axis=2, keepdims=True)
            np.divide(self.weights * b, sums, out=self.weights, where=sums > 0)
        else:
            sums = self.weights.sum(axis=(1, 2), keepdims=True)
            self.weights *= b * (n - 1) / sums

    def keep_probabilities(self) -> np.ndarray:
        """Per-edge keep probability min(1, w) the meta-graph has learned, shape (K, n, n)."""
        return np.minimum(self.weights, 1.0)

    def sampling_probabilities(self) -> np.ndarray:
        """What the sampler uses: the keep probabilities with a share ε of the uniform initial row mixed in."""
        p = self.keep_probabilities()
        eps = self.rule.explore
        if eps == 0:
            return p
        n = self.space.nodes
        uniform = np.zeros((n, n))
        for i in range(n - 1):
            uniform[i, i + 1 :] = min(1.0, self.space.out_degree / (n - 1 - i))
        return (1 - eps) * p + eps * uniform[None]

    def edge_entropy(self) -> float:
        """Mean normalised entropy of the rows' weight distributions: 1 = uniform (untrained), → 0 as rows concentrate."""
        n = self.space.nodes
        total = 0.0
        for i in range(n - 2):  # rows with >= 2 candidate successors
            p = self.weights[:, i, i + 1 :]
            p = p / p.sum(axis=1, keepdims=True)
            h = -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1) / math.log(n - 1 - i)
            total += float(h.mean())
        return total / max(1, n - 2)

    # -- phase A: sampling ------------------------------------------------------------
    def _dags_from_edges(self, edge_sets: list[list[tuple[int, int]]]) -> Architecture:
        arch = Architecture.from_space(self.space, (Dag(self.ops[k], tuple(e)) for k, e in enumerate(edge_sets)))
        return arch.without_dead_nodes()

    def sample(self) -> Architecture:
        """Draw a sub-architecture: from node 0, each reached node i keeps edge i→j with probability min(1, w[i, j])
        (mixed with the uniform row when the rule explores, see :meth:`sampling_probabilities`)."""
        n = self.space.nodes
        p = self.sampling_probabilities()
        edge_sets = []
        for k in range(self.space.num_dags):
            reached = np.zeros(n, dtype=bool)
            reached[0] = True
            edges = []
            draws = self._rng.random((n, n))  # one block per DAG: the stream does not depend on what was reached
            for i in range(n - 1):
                if reached[i]:
                    js = np.nonzero(draws[i, i + 1 :] < p[k, i, i + 1 :])[0] + i + 1
                    reached[js] = True
                    edges.extend((i, int(j)) for j in js)
            edge_sets.append(edges)
        return self._dags_from_edges(edge_sets)

    # -- phase C: Algorithm 1 --------------------------------------------------------------
    def cost(self, latency_ms: float | None = None, macs: float | None = None) -> float:
        """τ in the rule's unit."""
        if self.rule.cost == "none":
            return 0.0
        if self.rule.cost == "latency_ms":
            if latency_ms is None:
                raise MetaGraphError("the update rule's cost is latency_ms but no latency was given")
            return float(latency_ms)
        if macs is None or macs <= 0:
            raise MetaGraphError("the update rule's cost is log10_macs but no positive MAC count was given")
        return math.log10(macs) - 6.0

    def update(self, arch: Architecture, accuracy: float, *, latency_ms: float | None = None,
               macs: float | None = None) -> dict[str, float]:
        """Algorithm 1 for one scored candidate; returns the update's figures.

        Edges present in ``arch`` are multiplied by exp[α·A] with A = η′ − β and
        η′ = accuracy − γτ (A divided by its running RMS when the rule's advantage
        is "standardized"); then every DAG is renormalised and β moves towards η′.
        """
        self.check_belongs(arch)
        if not math.isfinite(accuracy):
            raise MetaGraphError(f"accuracy must be finite, got {accuracy}: skip diverged candidates instead")
        tau = self.cost(latency_ms, macs)
        if not math.isfinite(tau):
            raise MetaGraphError(f"cost must be finite, got {tau}")
        reward = accuracy - self.rule.gamma * tau
        beta = self.beta
        advantage = reward - beta
        if self.rule.advantage == "standardized":
            rho = self.rule.advantage_momentum
            ms = advantage**2 if self.advantage_ms is None else rho * self.advantage_ms + (1 - rho) * advantage**2
            self.advantage_ms = ms
            advantage = advantage / math.sqrt(ms) if ms > 0 else 0.0
        factor = math.exp(self.rule.alpha * advantage)
        for k, dag in enumerate(arch.dags):
            for i, j in dag.edges:
                self.weights[k, i, j] *= factor
        self._normalize()
        self.beta = self.rule.beta_momentum * beta + (1 - self.rule.beta_momentum) * reward
        self.iteration += 1
        return {"reward": reward, "cost": tau, "beta_before": beta, "beta": self.beta, "advantage": advantage,
                "factor": factor}

    def skip(self) -> None:
        """Count an iteration without an update (a candidate that diverged)."""
        self.iteration += 1

    def check_belongs(self, arch: Architecture) -> None:
        if arch.hierarchies != self.space.hierarchies or arch.dags_per_hierarchy != self.space.dags_per_hierarchy:
            raise MetaGraphError("architecture has a different number of hierarchies or DAGs than the meta-graph")
        for k, dag in enumerate(arch.dags):
            if dag.ops != self.ops[k]:
                raise MetaGraphError(f"DAG {k} of the architecture has other node operations than the meta-graph")

    # -- structure-level pruning --------------------------------------------------------------
    def prune(self, level: float, *, reference: str = "absolute", on_empty: str = "identity") -> Architecture:
        """Structure-level pruning: keep the edges whose weight reaches ``level``.

        Args:
            level: in [0, 1]; 0 keeps the complete DAGs, higher keeps fewer edges.
            reference: what the level is compared with. ``"absolute"`` (default,
                the paper's "connection weights below the level are pruned"):
                the keep probability min(1, w[i, j]) itself, so a node whose
                out-edges never concentrated keeps none and becomes an output, and
                a DAG may reduce to an identity (Fig. 3); ``"row_max"``:
                w[i, j] / max_j' w[i, j'], so each node's strongest out-edge always
                survives and node n-1 is every DAG's only output.
            on_empty: a DAG left with no live operation becomes an identity
                (``"identity"``, logged) or raises :class:`PruneError` (``"error"``).
        """
        if not (isinstance(level, (int, float)) and 0.0 <= level <= 1.0):
            raise ValueError(f"pruning level must be in [0, 1], got {level!r}")
        if reference not in PRUNE_REFERENCES:
            raise ValueError(f"reference must be one of {PRUNE_REFERENCES}, got {reference!r}")
        if on_empty not in ("identity", "error"):
            raise ValueError(f"on_empty must be 'identity' or 'error', got {on_empty!r}")
        n = self.space.nodes
        iu = np.triu_indices(n, 1)
        edge_sets = []
        for k in range(self.space.num_dags):
            w = self.weights[k]
            if reference == "row_max":
                rowmax = w.max(axis=1, keepdims=True)
                score = np.divide(w, rowmax, out=np.zeros_like(w), where=rowmax > 0)
            else:
                score = np.minimum(w, 1.0)
            keep = score[iu] >= level - 1e-12
            edge_sets.append([(int(i), int(j)) for i, j, kp in zip(*iu, keep) if kp])
        arch = self._dags_from_edges(edge_sets)
        empty = arch.identity_dags()
        if empty:
            msg = f"pruning at level {level} ({reference}) left DAG(s) {empty} with no path from input to output"
            if on_empty == "error":
                raise PruneError(msg)
            log.info("%s: they become identities", msg)  # expected at high levels; a profile prunes dozens of times
        return arch

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        n = self.space.nodes
        iu = np.triu_indices(n, 1)
        return {
            "format": FORMAT,
            "space": self.space.to_dict(),
            "rule": asdict(self.rule),
            "seed": self.seed,
            "iteration": self.iteration,
            "beta": self.beta,
            "advantage_ms": self.advantage_ms,
            "ops": [list(o) for o in self.ops],
            # upper triangle, row-major: w[0,1], w[0,2], ..., w[n-2,n-1]; repr floats round-trip exactly
            "weights": [[float(x) for x in self.weights[k][iu]] for k in range(self.space.num_dags)],
            "rng_state": self._rng.bit_generator.state,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], expected_space: SearchSpace | None = None) -> MetaGraph:
        if d.get("format") != FORMAT:
            raise MetaGraphError(f"not a gramlib meta-graph (format={d.get('format')!r})")
        try:
            space = SearchSpace.from_dict(d["space"])
            if expected_space is not None and space != expected_space:
                diff = {k: (v, getattr(expected_space, k)) for k, v in space.to_dict().items()
                        if k != "extra" and v != expected_space.to_dict()[k]}
                raise MetaGraphError(f"meta-graph was made for another search space; differing fields (file, expected): {diff}")
            mg = cls(space, UpdateRule(**d["rule"]), seed=d["seed"])
            n, K = space.nodes, space.num_dags
            ops = [tuple(o) for o in d["ops"]]
            w = np.asarray(d["weights"], dtype=float)
            if len(ops) != K or any(len(o) != n for o in ops) or w.shape != (K, n * (n - 1) // 2):
                raise MetaGraphError(f"meta-graph arrays do not match its space (K={K}, n={n})")
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise MetaGraphError("meta-graph weights contain negative or non-finite values")
            mg.ops = ops
            iu = np.triu_indices(n, 1)
            mg.weights[:] = 0.0
            for k in range(K):
                mg.weights[k][iu] = w[k]
            mg.iteration = int(d["iteration"])
            mg.beta = float(d["beta"])
            mg.advantage_ms = d.get("advantage_ms")  # absent in files written before the rule had it
            mg._rng.bit_generator.state = d["rng_state"]
        except (KeyError, TypeError, SpaceError) as e:
            raise MetaGraphError(f"malformed meta-graph: {e!r}") from e
        return mg

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Atomic: a crash during save leaves the previous file intact.

        Args:
            extra: more keys stored in the same file (the search's candidates in flight), so the two can never
                disagree; :meth:`load` ignores them.
        """
        d = self.to_dict()
        if extra:
            clash = set(extra) & set(d)
            if clash:
                raise MetaGraphError(f"extra keys would overwrite the meta-graph's own: {sorted(clash)}")
            d.update(extra)
        atomic_write_json(path, d)

    @classmethod
    def load(cls, path: str | Path, expected_space: SearchSpace | None = None) -> MetaGraph:
        return cls.load_with_extra(path, expected_space)[0]

    @classmethod
    def load_with_extra(cls, path: str | Path,
                        expected_space: SearchSpace | None = None) -> tuple[MetaGraph, dict[str, Any]]:
        """The meta-graph of a :meth:`save` file and the ``extra`` keys saved with it (one read)."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise MetaGraphError(f"cannot read meta-graph file {path}: {e}") from e
        mg = cls.from_dict(d, expected_space)
        return mg, {k: v for k, v in d.items() if k not in mg.to_dict()}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MetaGraph) and self.space == other.space and self.ops == other.ops
                and self.iteration == other.iteration and self.beta == other.beta
                and np.array_equal(self.weights, other.weights))

    def __repr__(self) -> str:
        s = self.space
        return (f"MetaGraph(h={s.hierarchies}, m={s.dags_per_hierarchy}, n={s.nodes}, iteration={self.iteration}, "
                f"beta={self.beta:.3f}, entropy={self.edge_entropy():.3f})")
