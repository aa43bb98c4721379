"""Is a SwiftNet the paper's shape? Layouts and pruning references compared on one meta-graph.

The paper's SwiftNets have MACs/params ≈ 12 (SwiftNet-0.65: 3 M MACs, 250 k
parameters). A hierarchy's MACs/params is about the area of its feature maps,
so the ratio says where down-sampling sits; the pruning reference says how
MACs fall with the level and how wide the final features are. Both are
measured here on the same learned DAGs, only the skeleton or the reference
changing, so the comparison isolates them.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from .architecture import Architecture
from .metagraph import MetaGraph
from .model import build_model
from .profiling import Cost, count_cost_by_shapes
from .skeleton import LAYOUTS, layout


_COST_CACHE: dict[tuple[str, tuple[int, ...], int], tuple[Cost, int]] = {}


def _cost_of(key: tuple[str, tuple[int, ...], int], arch: Architecture) -> tuple[Cost, int]:
    """(count, classifier input width) of ``arch``, counted once per process: many pruning levels give the same
    architecture. Counted from the modules' shapes (:func:`~gramlib.profiling.count_cost_by_shapes`, fvcore's
    numbers without its trace)."""
    if key not in _COST_CACHE:
        input_shape, num_classes = key[1], key[2]
        model = build_model(arch, num_classes, input_shape[0], input_size=input_shape[1])
        _COST_CACHE[key] = (count_cost_by_shapes(model, input_shape), model.feature_channels)
    return _COST_CACHE[key]


def with_layout(arch: Architecture, name: str) -> Architecture:
    """The same DAGs in another named layout (stem width and wiring rules kept)."""
    sk = arch.skeleton
    return replace(arch, skeleton=layout(name, arch.hierarchies, stem_channels=sk.stem_channels,
                                         combine=sk.combine, dag_output=sk.dag_output))


def arch_cost(arch: Architecture, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10) -> dict[str, Any]:
    """MACs, parameters, their ratio and the classifier's input width of one architecture."""
    key = (json.dumps(arch.to_dict(), sort_keys=True), tuple(int(v) for v in input_shape), int(num_classes))
    c, feature_width = _cost_of(key, arch)
    return {"mmacs": c.mmacs, "mparams": c.params / 1e6, "macs_per_param": c.macs / max(1, c.params),
            "feature_width": feature_width, "edges": arch.num_edges,
            "active_nodes": arch.num_active_nodes, "identity_dags": len(arch.identity_dags())}


def level_profile(mg: MetaGraph, levels: Iterable[float], *, reference: str = "absolute", layout_name: str | None = None,
                  input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                  scale: float = 1.0) -> list[dict[str, Any]]:
    """:func:`arch_cost` of the meta-graph pruned at each level (optionally re-laid out or channel-scaled),
    plus edges kept per DAG (Figure 5)."""
    rows = []
    for lv in levels:
        arch = mg.prune(float(lv), reference=reference)
        if layout_name is not None:
            arch = with_layout(arch, layout_name)
        if scale != 1.0:
            arch = arch.scale_channels(scale)
        rows.append({"level": float(lv), "reference": reference, "layout": layout_name or "as searched",
                     **arch_cost(arch, input_shape, num_classes),
                     "edges_per_dag": [len(d.edges) for d in arch.dags]})
    return rows


def nearest_level(profile: list[dict[str, Any]], budget_mmacs: float) -> dict[str, Any]:
    """The profiled row whose MACs are closest to ``budget_mmacs`` in ratio (ties: the higher level, smaller model)."""
    if budget_mmacs <= 0:
        raise ValueError(f"budget must be positive, got {budget_mmacs}")
    rows = [r for r in profile if r["mmacs"] > 0]
    if not rows:
        raise ValueError("empty pruning profile")
    return min(rows, key=lambda r: (abs(math.log(r["mmacs"] / budget_mmacs)), -r["level"]))


def budget_rows(profile: list[dict[str, Any]], budgets_mmacs: Iterable[float]) -> list[dict[str, Any]]:
    """For each budget, the profiled level nearest it (:func:`nearest_level`) and that model's size."""
    rows = []
    for b in budgets_mmacs:
        r = nearest_level(profile, b)
        rows.append({"budget_mmacs": b, "level": r["level"], "mmacs": r["mmacs"], "mparams": r["mparams"],
                     "macs_per_param": r["macs_per_param"], "feature_width": r["feature_width"],
                     "within_1_5x": 1 / 1.5 <= r["mmacs"] / b <= 1.5})
    return rows


def layouts_at_budgets(mg: MetaGraph, budgets_mmacs: Iterable[float], levels: Iterable[float], *,
                       layouts: Iterable[str] = tuple(LAYOUTS), reference: str = "absolute",
                       input_shape: tuple[int, int, int] = (3, 32, 32)) -> list[dict[str, Any]]:
    """For each layout: the level nearest each budget, with its MACs, parameters and MACs/params."""
    levels = list(levels)
    out = []
    for name in layouts:
        prof = level_profile(mg, levels, reference=reference, layout_name=name, input_shape=input_shape)
        sides = "/".join(map(str, layout(name, mg.space.hierarchies).resolutions(input_shape[1])))
        out += [{"layout": name, "resolutions": sides, **r} for r in budget_rows(prof, budgets_mmacs)]
    return out


def is_monotone(profile: list[dict[str, Any]], key: str = "mmacs") -> bool:
    """Do MACs (or ``key``) never grow as the level rises?"""
    rows = sorted(profile, key=lambda r: r["level"])
    return all(b[key] <= a[key] + 1e-9 for a, b in zip(rows, rows[1:]))


def level_grid(points: int = 61) -> list[float]:
    """Pruning levels to profile: even steps over [0, 1] plus log steps toward 0, where a learned meta-graph's
    many weak edges sit (keep-probabilities of order 1/n), and toward 1, where its learned edges sit
    (0.98-0.999: the smallest models, e.g. Table 4's MNIST size, lie between them)."""
    if points < 2:
        raise ValueError(f"a level grid needs >= 2 points, got {points}")
    lin = np.linspace(0.0, 1.0, points)
    near0 = np.geomspace(1e-3, 1.0, points)
    near1 = 1.0 - np.geomspace(1e-4, 0.5, points)
    return sorted({round(float(x), 6) for x in np.concatenate([lin, near0, near1])})


def width_for(width: float | str | dict[str, float | str], task: str) -> float | str:
    """The width multiplier for ``task``: one number (or ``"auto"``) for every task, or a mapping ``{task: width}``.
    ``"auto"`` is returned as is: :func:`auto_width` resolves it on a meta-graph.

    Raises:
        ValueError: the mapping has no entry for ``task``, or a width is neither ``"auto"`` nor a finite number > 0.
    """
    if isinstance(width, dict):
        if task not in width:
            raise ValueError(f"width has no entry for {task!r} (it gives {sorted(width)})")
        width = width[task]
    if width == "auto":
        return "auto"
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"width for {task!r} must be \"auto\" or a finite number > 0, got {width!r}")
    return float(width)


def levels_for_budgets(mg: MetaGraph, budgets_mmacs: Iterable[float], *, levels: Iterable[float] | None = None,
                       reference: str = "absolute", layout_name: str | None = None,
                       input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                       scale: float = 1.0) -> list[dict[str, Any]]:
    """Figure 5's method for each budget: profile the meta-graph over the levels and take the level whose
    model's MACs are nearest the budget (Table 1 at the paper's 3 / 5 / 12 / 36 M, Table 4 at its sizes,
    Table 3 at its input sizes and channel up-scaling ``scale``; ``layout_name``: pruned in another skeleton
    layout, as :func:`level_profile`)."""
    prof = level_profile(mg, level_grid() if levels is None else levels, reference=reference,
                         layout_name=layout_name, input_shape=input_shape, num_classes=num_classes, scale=scale)
    return budget_rows(prof, budgets_mmacs)


#: the widths :func:`auto_width` chooses from (docs/interpretation.md, open point 23)
AUTO_WIDTHS = (0.25, 0.35, 0.5, 0.6, 0.75)

#: channel scales :func:`fit_budgets` tries where pruning alone misses a budget: thinner widths (open point 23)
#: and the paper's up-scaling factors (§3.3, Table 3)
CLIFF_SCALES = (0.5, 0.6, 0.75, 1.25, 1.5)


def fit_budgets(mg: MetaGraph, budgets_mmacs: Iterable[float], *, levels: Iterable[float] | None = None,
                input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10, tolerance: float = 0.10,
                scales: Iterable[float] = CLIFF_SCALES, profile: list[dict[str, Any]] | None = None
                ) -> list[dict[str, Any]]:
    """Table 1's model for each budget: Figure 5's method (the level nearest the budget, :func:`levels_for_budgets`)
    where it lands within ``tolerance`` of the budget without pruning a hierarchy to identities; otherwise the
    profile has a cliff there (one more pruned edge can drop a whole DAG: 7.2 → 2.0 M MACs on a cpu meta-graph), and
    the channel scale and level :func:`auto_width`'s rule picks among ``scales`` (1.0 included: the most
    parameters within tolerance and no identity hierarchy, else the fallback).

    Returns one row per budget: ``budget_mmacs``, ``level``, ``scale``, ``mmacs``, ``mparams``, ``macs_per_param``,
    ``identity_hierarchies``, ``within_tolerance`` and ``rule`` ("pruning alone", or auto_width's rule after
    "cliff: ").

    ``profile``: :func:`level_profile` of ``mg`` on ``levels`` with this input, when the caller has it already
    (Figure 5's notebook); profiled here otherwise.
    """
    levels = sorted(level_grid() if levels is None else levels)
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    # the whole grid, as Figure 5 (a bisection assumes MACs never grow with the level; an identity DAG passes its
    # input's channels on, so a profile need not be monotone)
    if profile is None:
        profile = level_profile(mg, levels, input_shape=input_shape, num_classes=num_classes)
    elif sorted(r["level"] for r in profile) != levels:
        raise ValueError("profile must cover exactly the given levels")
    out = []
    for pick in budget_rows(profile, budgets_mmacs):
        b = pick["budget_mmacs"]
        ident = len(mg.prune(pick["level"]).identity_hierarchies())
        row = {"budget_mmacs": b, "level": pick["level"], "scale": 1.0, "mmacs": pick["mmacs"],
               "mparams": pick["mparams"], "identity_hierarchies": ident, "rule": "pruning alone"}
        if abs(pick["mmacs"] / b - 1) > tolerance or ident:
            _, rows = auto_width(mg, b, widths=(1.0, *scales), levels=levels, input_shape=input_shape,
                                 num_classes=num_classes, tolerance=tolerance)
            (best,) = [r for r in rows if r["chosen"]]
            row.update(level=best["level"], scale=best["width"], mmacs=best["mmacs"], mparams=best["mparams"],
                       identity_hierarchies=best["identity_hierarchies"], rule=f"cliff: {best['rule']}")
        row["macs_per_param"] = row["mmacs"] / row["mparams"]
        row["within_tolerance"] = abs(row["mmacs"] / b - 1) <= tolerance
        out.append(row)
    return out


def auto_width(mg: MetaGraph, budget_mmacs: float, *, widths: Iterable[float] = AUTO_WIDTHS,
               levels: Iterable[float] | None = None, input_shape: tuple[int, int, int] = (3, 32, 32),
               num_classes: int = 10, tolerance: float = 0.10) -> tuple[float, list[dict[str, Any]]]:
    """Table 4's width rule: thin every node's filters by each of ``widths``, prune to ``budget_mmacs`` (the
    level :func:`levels_for_budgets` would pick on ``levels``, found by bisection), and take the width whose model has the most parameters while its MACs are
    within ``tolerance`` of the budget and no hierarchy is pruned to identities. Small budgets need thin
    filters: at full width the level that meets MNIST's 0.23 M prunes whole hierarchies away, and which width
    works depends on the meta-graph (its levels jump in MACs), so it is derived, not set by hand.

    Args:
        mg: the learned meta-graph.
        budget_mmacs: the paper's MACs for the task, in millions.
        widths: the candidates.
        levels: the pruning levels to profile (default :func:`level_grid`).
        input_shape, num_classes: the task's.
        tolerance: how far from the budget (as a fraction of it) a model's MACs may be.

    Returns:
        ``(width, rows)``: the chosen width and one row per candidate (``width``, ``level``, ``mmacs``,
        ``mparams``, ``identity_hierarchies``, ``eligible``, ``chosen``, ``rule``). When no candidate is eligible, the
        one with the fewest identity hierarchies and then the MACs nearest the budget is chosen, and its row
        says ``rule: "fallback"``.
    """
    widths = sorted({float(w) for w in widths})
    if not widths or any(not (0 < w) or not math.isfinite(w) for w in widths):
        raise ValueError(f"widths must be finite numbers > 0, got {widths!r}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    levels = sorted(level_grid() if levels is None else levels)
    rows = []
    for w in widths:
        pick = _nearest_level_bisect(mg, budget_mmacs, levels, input_shape=input_shape, num_classes=num_classes, scale=w)
        ident = len(mg.prune(pick["level"]).identity_hierarchies())
        near = abs(pick["mmacs"] / budget_mmacs - 1) <= tolerance
        rows.append({"width": w, "level": pick["level"], "mmacs": pick["mmacs"], "mparams": pick["mparams"],
                     "identity_hierarchies": ident, "eligible": near and ident == 0, "chosen": False, "rule": ""})
    eligible = [r for r in rows if r["eligible"]]
    if eligible:
        best, rule = max(eligible, key=lambda r: (r["mparams"], -r["width"])), "most parameters within tolerance"
    else:
        best = min(rows, key=lambda r: (r["identity_hierarchies"], abs(math.log(r["mmacs"] / budget_mmacs))))
        rule = "fallback"
    best.update(chosen=True, rule=rule)
    return best["width"], rows


def _nearest_level_bisect(mg: MetaGraph, budget_mmacs: float, levels: list[float], *,
                          input_shape: tuple[int, int, int], num_classes: int, scale: float) -> dict[str, Any]:
    """:func:`nearest_level` over sorted ``levels`` from about log2(len(levels)) counts instead of one per level.
    A model's MACs never grow as the level rises (pruning keeps a subset of the edges), so the nearest level is
    one of the two beside the budget's crossing: the last level at or above the budget and the first below it."""
    memo: dict[int, dict[str, Any]] = {}

    def row(i: int) -> dict[str, Any]:
        if i not in memo:
            memo[i] = level_profile(mg, [levels[i]], input_shape=input_shape, num_classes=num_classes, scale=scale)[0]
        return memo[i]

    lo, hi = 0, len(levels)  # the first index whose model is below the budget
    while lo < hi:
        mid = (lo + hi) // 2
        if row(mid)["mmacs"] < budget_mmacs:
            hi = mid
        else:
            lo = mid + 1
    return nearest_level([row(i) for i in (lo - 1, lo) if 0 <= i < len(levels)], budget_mmacs)
