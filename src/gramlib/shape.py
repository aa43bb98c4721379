"""Is a SwiftNet the paper's shape? Layouts and pruning references compared on one meta-graph.

The paper's SwiftNets have MACs/params ≈ 12 (SwiftNet-0.65: 3 M MACs, 250 k
parameters). A hierarchy's MACs/params is about the area of its feature maps,
so the ratio says where down-sampling sits; the pruning reference says how
MACs fall with the level and how wide the final features are. Both are
measured here on the same learned DAGs, only the skeleton or the reference
changing, so the comparison isolates them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .architecture import Architecture
from .io import atomic_write_json, run_key
from .metagraph import MetaGraph
from .model import build_model
from .profiling import Cost, count_cost
from .skeleton import LAYOUTS, layout


_COST_CACHE: dict[tuple[str, tuple[int, ...], int], tuple[Any, int]] = {}

#: environment variable naming the folder where :func:`arch_cost` keeps its counts between processes (every
#: pipeline stage profiles the same pruning levels, and fvcore's trace takes about a second per model);
#: default ``data/cache/arch_costs``, an empty value keeps counts in memory only
COST_CACHE_ENV = "GRAMLIB_COST_CACHE"


@functools.lru_cache(maxsize=1)
def _counting_code() -> str:
    """What a stored count depends on besides the architecture: the code that builds and counts models, and the
    torch and fvcore versions (a change to any of them makes every stored count a miss)."""
    import fvcore
    import torch

    from . import architecture, model, profiling, skeleton, space

    h = hashlib.sha256(f"{torch.__version__} {getattr(fvcore, '__version__', '?')}".encode())
    for mod in (architecture, model, profiling, skeleton, space):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()


def _stored_cost_path(key: tuple[str, tuple[int, ...], int]) -> Path | None:
    root = os.environ.get(COST_CACHE_ENV, "data/cache/arch_costs")
    if not root:
        return None
    return Path(root) / f"{run_key(arch=key[0], input=list(key[1]), classes=key[2], code=_counting_code())}.json"


def _cost_of(key: tuple[str, tuple[int, ...], int], arch: Architecture) -> tuple[Any, int]:
    """(count, classifier input width) of ``arch``: from memory, else from the folder of :data:`COST_CACHE_ENV`,
    else counted by fvcore (and stored)."""
    if key in _COST_CACHE:
        return _COST_CACHE[key]
    path = _stored_cost_path(key)
    if path is not None and path.exists():
        try:
            d = json.loads(path.read_text())
            _COST_CACHE[key] = (Cost(macs=int(d["macs"]), params=int(d["params"]), macs_all_ops=int(d["macs_all_ops"])),
                                int(d["feature_width"]))
            return _COST_CACHE[key]
        except (ValueError, KeyError, TypeError):
            pass  # unreadable (e.g. cut short): count again and overwrite
    input_shape, num_classes = key[1], key[2]
    model = build_model(arch, num_classes, input_shape[0], input_size=input_shape[1])
    c = count_cost(model, input_shape)
    _COST_CACHE[key] = (c, model.feature_channels)
    if path is not None:
        try:
            atomic_write_json(path, {"macs": c.macs, "params": c.params, "macs_all_ops": c.macs_all_ops,
                                     "feature_width": model.feature_channels})
        except OSError:
            pass  # a read-only or full disk costs only the saving
    return _COST_CACHE[key]


def with_layout(arch: Architecture, name: str) -> Architecture:
    """The same DAGs in another named layout (stem width and wiring rules kept)."""
    sk = arch.skeleton
    return replace(arch, skeleton=layout(name, arch.hierarchies, stem_channels=sk.stem_channels,
                                         combine=sk.combine, dag_output=sk.dag_output))


def arch_cost(arch: Architecture, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10) -> dict[str, Any]:
    """MACs, parameters, their ratio and the classifier's input width of one architecture."""
    # many pruning levels give the same architecture, and stages re-profile the same levels; fvcore's trace is the slow part
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


def width_for(width: float | dict[str, float], task: str) -> float:
    """The width multiplier for ``task``: one number for every task, or a mapping ``{task: width}``.

    Raises:
        ValueError: the mapping has no entry for ``task``, or a width is not a finite number > 0.
    """
    if isinstance(width, dict):
        if task not in width:
            raise ValueError(f"width has no entry for {task!r} (it gives {sorted(width)})")
        width = width[task]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"width for {task!r} must be a finite number > 0, got {width!r}")
    return float(width)


def levels_for_budgets(mg: MetaGraph, budgets_mmacs: Iterable[float], *, levels: Iterable[float] | None = None,
                       reference: str = "absolute", input_shape: tuple[int, int, int] = (3, 32, 32),
                       num_classes: int = 10, scale: float = 1.0) -> list[dict[str, Any]]:
    """Figure 5's method for each budget: profile the meta-graph over the levels and take the level whose
    model's MACs are nearest the budget (Table 1 at the paper's 3 / 5 / 12 / 36 M, Table 4 at its sizes,
    Table 3 at its input sizes and channel up-scaling ``scale``)."""
    prof = level_profile(mg, level_grid() if levels is None else levels, reference=reference,
                         input_shape=input_shape, num_classes=num_classes, scale=scale)
    return budget_rows(prof, budgets_mmacs)
