"""A planted, noiseless reward: can Algorithm 1 find a structure that is plainly better?

The proxy accuracy of a real search mixes the architecture's signal with seed
noise, so a meta-graph that does not learn could be blamed on the proxy. Here
the proxy is replaced by a deterministic reward that favours a known set of
edges, and the meta-graph is updated exactly as in a search
(:meth:`MetaGraph.sample` → :meth:`MetaGraph.update`). If the update rule
cannot find the planted edges in 1000 iterations, no proxy will make it learn.

The planted set is one the row normalisation allows: in every DAG, one
out-edge i→j per node i (j drawn uniformly). The reward of a sampled
architecture is ``base + spread × (planted edges taken − other edges taken) /
(planted edges)`` minus ``cost_per_edge`` per sampled edge (a MAC-like cost:
denser is dearer), so the planted architecture scores ``base + spread − cost``
and nothing scores more.
Only rows of nodes that the planted edges reach from node 0 matter (other
nodes are never reached once the meta-graph has converged), so convergence is
measured there: the planted edges' keep-probabilities against the others'.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from .progress import progress_bar as tqdm

from .architecture import Architecture
from .metagraph import MetaGraph, UpdateRule
from .space import SearchSpace


@dataclass(frozen=True)
class PlantedReward:
    """The planted edges of each DAG and the reward they define.

    Args:
        planted: bool array (K, n, n), one out-edge per node of every DAG.
        base: reward of an architecture with no edge.
        spread: extra reward of the planted architecture (0.1: five times the
            cpu proxy's between-architecture sd).
        cost_per_edge: subtracted per sampled edge, scaled by 1 / (K·(n−1)).
    """

    planted: np.ndarray
    base: float = 0.25
    spread: float = 0.1
    cost_per_edge: float = 0.02

    @classmethod
    def draw(cls, space: SearchSpace, seed: int = 0, **kw: float) -> PlantedReward:
        """Plant one random out-edge per node in each of the space's K DAGs."""
        rng = np.random.default_rng([int(seed), 7])
        n, K = space.nodes, space.num_dags
        planted = np.zeros((K, n, n), dtype=bool)
        for k in range(K):
            for i in range(n - 1):
                planted[k, i, rng.integers(i + 1, n)] = True
        return cls(planted, **kw)

    @property
    def relevant_rows(self) -> np.ndarray:
        """bool (K, n): nodes reached from node 0 through planted edges (the rows that decide the reward)."""
        K, n, _ = self.planted.shape
        reach = np.zeros((K, n), dtype=bool)
        reach[:, 0] = True
        for i in range(n - 1):
            reach[:, :] |= reach[:, i : i + 1] & self.planted[:, i, :]
        reach[:, n - 1] = False  # the last node has no out-edges
        return reach

    def __call__(self, arch: Architecture) -> float:
        K, n, _ = self.planted.shape
        edges = [(k, i, j) for k, d in enumerate(arch.dags) for i, j in d.edges]
        hits = sum(bool(self.planted[k, i, j]) for k, i, j in edges)
        # planted edges taken minus others taken, per planted edge: the whole planted structure is the
        # unique optimum (a share of planted edges alone would also be maximal for any planted subset)
        found = (hits - (len(edges) - hits)) / self.num_planted
        return self.base + self.spread * found - self.cost_per_edge * len(edges) / (K * (n - 1))

    @property
    def num_planted(self) -> int:
        """Planted edges on the relevant rows: what the best architecture takes."""
        return int((self.planted & self.relevant_rows[:, :, None]).sum())

    def convergence(self, mg: MetaGraph) -> dict[str, float]:
        """Keep-probabilities on the relevant rows: planted edges' mean and min, the others' mean and max."""
        p = mg.keep_probabilities()
        K, n, _ = p.shape
        rows = self.relevant_rows
        upper = np.triu(np.ones((n, n), dtype=bool), 1)
        mask = rows[:, :, None] & upper[None]
        planted = p[mask & self.planted]
        other = p[mask & ~self.planted]
        # a row is learned when its planted edge is kept almost surely and every other edge almost never
        row_planted = np.where(mask & self.planted, p, 0.0).max(axis=2)
        row_other = np.where(mask & ~self.planted, p, 0.0).max(axis=2)
        learned = (row_planted >= 0.9) & (row_other <= 0.1)
        return {"planted_mean": float(planted.mean()), "planted_min": float(planted.min()),
                "other_mean": float(other.mean()) if other.size else 0.0,
                "other_max": float(other.max()) if other.size else 0.0,
                "rows_learned": float(learned[rows].mean()),
                "entropy": mg.edge_entropy()}


def converged(row: dict[str, float], planted_at_least: float = 0.9, others_at_most: float = 0.1) -> bool:
    """The issue's criterion: every planted edge ≥ 0.9 and every other edge ≤ 0.1 on the relevant rows."""
    return row["planted_min"] >= planted_at_least and row["other_max"] <= others_at_most


def run_planted(space: SearchSpace, rule: UpdateRule, iterations: int = 1000, *, seed: int = 0,
                reward: PlantedReward | None = None, every: int = 10, progress: bool = False,
                workers: int = 1) -> list[dict[str, Any]]:
    """Algorithm 1 against the planted reward; a convergence row every ``every`` iterations (and the last).

    The rule's cost term is not used: the planted reward carries its own, so
    pass a rule with ``cost="none"`` (any other cost kind is rejected).

    Args:
        space: meta-graph shape (the cpu profile's, for the benchmark).
        rule: Algorithm 1's reading under test.
        iterations: T.
        seed: seeds the meta-graph and (unless ``reward`` is given) the planted edges.
        reward: a ready planted reward.
        every: record a row every so many iterations.
        progress: show a tqdm bar.
        workers: candidates in flight, as :func:`gramlib.search.search` keeps them with ``workers = k`` and
            ordered results: each update applies to a candidate sampled k − 1 updates earlier (1: Algorithm 1).
    """
    if rule.cost != "none":
        raise ValueError(f"the planted reward carries its own cost term: use UpdateRule(cost='none'), got {rule.cost!r}")
    if iterations < 0 or every < 1 or workers < 1:
        raise ValueError(f"iterations must be >= 0, every and workers >= 1, got {iterations}, {every}, {workers}")
    reward = reward or PlantedReward.draw(space, seed)
    mg = MetaGraph(space, rule, seed=seed)
    rows = [{"iteration": 0, "reward": None, **reward.convergence(mg)}]
    in_flight: deque[Architecture] = deque()
    for t in tqdm(range(1, iterations + 1), desc="planted", disable=not progress):
        while len(in_flight) < min(workers, iterations - t + 1):  # the search's fill(): sample until k are out
            in_flight.append(mg.sample())
        arch = in_flight.popleft()  # the oldest result comes back first (ordered)
        r = reward(arch)
        mg.update(arch, r)
        if t % every == 0 or t == iterations:
            rows.append({"iteration": t, "reward": r, **reward.convergence(mg)})
    return rows


def iterations_to_converge(rows: list[dict[str, Any]], **criterion: float) -> int | None:
    """First recorded iteration at which :func:`converged` holds (None if never)."""
    for row in rows:
        if converged(row, **criterion):
            return int(row["iteration"])
    return None
