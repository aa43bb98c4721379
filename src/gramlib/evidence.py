"""Side-by-side tests of the paper's claims: matched-MAC baselines, GRAM vs random search, proxy-signal quality.

The evidence notebook (``notebooks/09_evidence.ipynb``) calls these; they hold
no plotting and no file layout.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .architecture import Architecture
from .data import ProxySplit
from .metagraph import MetaGraph
from .profiling import count_cost
from .search import SearchConfig, score_candidate
from .train import Recipe


class MatchError(ValueError):
    """No width reaches the MAC target within the tolerance.

    ``closest`` holds the (factor, MACs) that came nearest, when known.
    """

    def __init__(self, message: str, closest: tuple[float, int] | None = None) -> None:
        super().__init__(message)
        self.closest = closest


def match_macs(make: Callable[[float], nn.Module], target_macs: float, input_shape: tuple[int, int, int], *,
               lo: float = 0.05, hi: float = 2.0, tolerance: float = 0.10, steps: int = 14) -> tuple[float, int]:
    """Width factor whose model's MACs are closest to ``target_macs`` (bisection; MACs grow with the factor).

    Args:
        make: factor → model (e.g. ``lambda f: build_model(arch.scale_channels(f, 1))``).
        target_macs: the MAC count to match.
        input_shape: (C, H, W) for counting.
        lo, hi: factor search interval.
        tolerance: largest accepted relative MAC error; beyond it :class:`MatchError` is raised.

    Returns:
        (factor, macs of that model).
    """
    if target_macs <= 0:
        raise ValueError(f"target MACs must be positive, got {target_macs}")
    cache: dict[float, int] = {}

    def macs(f: float) -> int:
        if f not in cache:
            cache[f] = count_cost(make(f), input_shape).macs
        return cache[f]

    a, b = lo, hi
    for _ in range(steps):
        mid = math.sqrt(a * b)  # MACs grow ~ quadratically: bisect in log space
        if macs(mid) < target_macs:
            a = mid
        else:
            b = mid
    best = min(cache, key=lambda f: abs(cache[f] - target_macs))
    err = abs(cache[best] - target_macs) / target_macs
    if err > tolerance:
        raise MatchError(f"closest width factor {best:.3f} gives {cache[best] / 1e6:.2f} M MACs, "
                         f"{100 * err:.1f} % from the target {target_macs / 1e6:.2f} M (tolerance {100 * tolerance:.0f} %)",
                         closest=(best, cache[best]))
    return best, cache[best]


def equal_mac_pair(mg: MetaGraph, heavy_level: float, light_level: float, input_shape: tuple[int, int, int], *,
                   num_classes: int = 10, tolerance: float = 0.10, grid: int = 201) -> dict[str, Any]:
    """Claim 1's pair from one meta-graph: an architecture pruned hard and a lightly pruned one thinned by a
    width multiplier, at equal MACs (within ``tolerance``).

    First the light architecture is thinned to the MACs of the one pruned at ``heavy_level``. Narrow nodes
    make the width multiplier coarse (with 16-filter nodes one filter less is ~12 % fewer MACs per layer),
    so when no width lands within the tolerance the closest width is kept and the pruning level moves
    instead, to the level in ``[light_level, 1]`` (``grid`` steps) whose MACs are closest to the thinned
    model's: pruning is the finer of the two knobs.

    Returns:
        dict with ``level`` (the pruning level used), ``pruned``, ``factor``, ``thinned`` (architectures),
        ``pruned_macs``, ``thinned_macs`` and ``moved_level`` (True when the fallback was taken).

    Raises:
        MatchError: neither knob reaches equal MACs within the tolerance.
    """
    from .model import build_model

    def macs(arch: Architecture) -> int:
        return count_cost(build_model(arch, num_classes, input_shape[0], input_size=input_shape[1]), input_shape).macs

    light = mg.prune(light_level)
    pruned = mg.prune(heavy_level)
    target = macs(pruned)
    level, moved = heavy_level, False
    try:
        factor, thinned_macs = match_macs(lambda f: build_model(light.scale_channels(f, 1), num_classes, input_shape[0],
                                                                input_size=input_shape[1]),
                                          target, input_shape, tolerance=tolerance)
    except MatchError as e:
        if e.closest is None:
            raise
        factor, thinned_macs = e.closest
        by_level = {float(lv): macs(mg.prune(float(lv))) for lv in np.linspace(light_level, 1.0, grid)}
        level = min(by_level, key=lambda lv: abs(by_level[lv] - thinned_macs))
        err = abs(by_level[level] - thinned_macs) / thinned_macs
        if err > tolerance:
            raise MatchError(f"{e}; no pruning level in [{light_level}, 1] comes within {100 * tolerance:.0f} % of the "
                             f"closest width's {thinned_macs / 1e6:.2f} M either", closest=e.closest) from e
        pruned, target, moved = mg.prune(level), by_level[level], True
    return {"level": level, "pruned": pruned, "pruned_macs": target, "factor": factor,
            "thinned": light.scale_channels(factor, 1), "thinned_macs": thinned_macs, "moved_level": moved}


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    v = [x for x in values if x is not None and not math.isnan(x)]
    if not v:
        return math.nan, math.nan
    return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)


def best_found(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The history row with the highest proxy accuracy (diverged rows ignored)."""
    rows = [r for r in history if r.get("accuracy") is not None]
    if not rows:
        raise ValueError("no finished candidate in this history")
    return max(rows, key=lambda r: r["accuracy"])


def _split_fingerprint(proxy: ProxySplit) -> str:
    h = hashlib.sha256()
    for part in (proxy.train, proxy.val):
        h.update(str(tuple(part.x.shape)).encode())
        h.update(part.y.numpy().tobytes())
        h.update(part.x[:: max(1, len(part.x) // 16)].numpy().tobytes())  # a few images: same labels, other split
    return h.hexdigest()[:16]


def proxy_signal(archs: Sequence[Architecture], proxy: ProxySplit, config: SearchConfig, seeds: Sequence[int],
                 progress: Callable[[Any], Any] | None = None, cache: str | Path | None = None) -> dict[str, Any]:
    """How much of the proxy accuracy is the architecture and how much the seed.

    Every architecture is proxy-trained once per seed. Returns the per-run
    accuracies (shape archs × seeds), the between-architecture standard deviation
    of the seed means, the mean within-architecture (seed) standard deviation, the
    one-way ANOVA F and p (architecture as factor), and the fraction of variance
    explained by the architecture (intraclass correlation, ICC(1)).

    Args:
        cache: a JSON-lines file; every finished run is appended to it and runs
            already there (same architecture, seed, proxy settings and split) are
            not redone, so an interrupted study loses at most one candidate.
    """
    from scipy import stats

    done: dict[str, dict[str, Any]] = {}
    cache_path = Path(cache) if cache is not None else None
    if cache_path is not None and cache_path.exists():
        for line in cache_path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a torn last line from a kill
                continue
            done[row["key"]] = row
    split = _split_fingerprint(proxy)
    cfg = json.dumps(config.to_dict(), sort_keys=True, default=str)

    acc = np.full((len(archs), len(seeds)), np.nan)
    seconds = []
    it = [(i, j) for i in range(len(archs)) for j in range(len(seeds))]
    for i, j in (progress(it) if progress else it):
        blob = json.dumps([archs[i].to_dict(), seeds[j], cfg, split], sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()[:20]
        if key not in done:
            r = score_candidate(archs[i], proxy, config, seeds[j])
            done[key] = {"key": key, "accuracy": r["accuracy"], "seconds": sum(r["times"].values()),
                         "mmacs": r["macs"] / 1e6}
            if cache_path is not None:
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                with open(cache_path, "a") as f:
                    f.write(json.dumps(done[key]) + "\n")
        a = done[key]["accuracy"]
        acc[i, j] = math.nan if a is None else a
        seconds.append(done[key]["seconds"])
    k = len(seeds)
    means = np.nanmean(acc, axis=1)
    within = float(np.nanmean(np.nanstd(acc, axis=1, ddof=1))) if k > 1 else math.nan
    between = float(np.nanstd(means, ddof=1)) if len(archs) > 1 else math.nan
    groups = [row[~np.isnan(row)] for row in acc]
    f, p = stats.f_oneway(*groups) if k > 1 and len(archs) > 1 else (math.nan, math.nan)
    ms_between = k * np.nanvar(means, ddof=1)
    ms_within = float(np.nanmean(np.nanvar(acc, axis=1, ddof=1))) if k > 1 else math.nan
    icc = (ms_between - ms_within) / (ms_between + (k - 1) * ms_within) if k > 1 else math.nan
    return {"accuracy": acc, "between_sd": between, "within_sd": within, "anova_f": float(f), "anova_p": float(p),
            # the median: a few runs slowed 10x by other load on a 2-core machine must not decide a variant's cost
            "icc": float(icc), "seconds_per_candidate": float(np.median(seconds))}


_SPLIT_FIELDS = ("proxy_train", "proxy_val", "per_class")
_RECIPE_FIELDS = tuple(f.name for f in fields(Recipe))


def proxy_variant(config: SearchConfig, overrides: Mapping[str, Any]) -> SearchConfig:
    """``config`` with a proxy variant's settings: the split's size (``proxy_train``,
    ``proxy_val``, ``per_class``) and any :class:`Recipe` field (``epochs``, ``lr``,
    ``schedule``, ...), e.g. ``{"proxy_train": 1500, "epochs": 1}``.

    Raises:
        ValueError: an unknown key (a typo would otherwise silently test the default).
    """
    unknown = sorted(set(overrides) - set(_SPLIT_FIELDS) - set(_RECIPE_FIELDS))
    if unknown:
        raise ValueError(f"unknown proxy setting(s) {unknown}; use {list(_SPLIT_FIELDS)} or Recipe fields "
                         f"{list(_RECIPE_FIELDS)}")
    split = {k: v for k, v in overrides.items() if k in _SPLIT_FIELDS}
    recipe = {k: v for k, v in overrides.items() if k in _RECIPE_FIELDS}
    if "milestones" in recipe:
        recipe["milestones"] = tuple(recipe["milestones"])
    return replace(config, **split, proxy_recipe=replace(config.proxy_recipe, **recipe))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Kendall's τ and its p-value (scipy)."""
    from scipy import stats

    res = stats.kendalltau(x, y)
    return float(res.statistic), float(res.pvalue)


def sample_distinct(mg: MetaGraph, n: int, max_tries: int = 1000) -> list[Architecture]:
    """``n`` distinct sampled architectures with at least one live operation."""
    seen: list[Architecture] = []
    for _ in range(max_tries):
        a = mg.sample()
        if a.num_active_nodes > 0 and a not in seen:
            seen.append(a)
        if len(seen) == n:
            return seen
    raise ValueError(f"could not sample {n} distinct architectures in {max_tries} tries")


LATENCY_BACKENDS = ("eager", "torchscript", "torchscript, DAGs forked", "onnxruntime", "onnxruntime, parallel")


def latency_and_export(name: str, model: nn.Module, input_shape: tuple[int, int, int], workdir, *, runs: int = 100,
                       warmup: int = 10, backends: Sequence[str] = LATENCY_BACKENDS,
                       threads: Sequence[int] = (1, 2)) -> list[dict[str, Any]]:
    """Batch-1 latency of one model across backends and thread counts, plus export fidelity.

    Rows: eager and TorchScript at each thread count, TorchScript with the DAGs of a
    hierarchy forked concurrently (SwiftNets only, 1 intra-op thread), onnxruntime at
    each thread count and in its parallel mode. Each row carries the largest output
    difference of that backend against eager PyTorch. In-process measurement: the
    inter-op pool size is whatever this process started with (``benchmarks/latency.py``
    controls it per process).

    Args:
        backends: which of :data:`LATENCY_BACKENDS` to measure.
        threads: intra-op thread counts for "eager", "torchscript" and "onnxruntime".
    """
    unknown = set(backends) - set(LATENCY_BACKENDS)
    if unknown:
        raise ValueError(f"unknown latency backends {sorted(unknown)}; choose from {LATENCY_BACKENDS}")
    import time
    from pathlib import Path

    from .export import export_onnx, export_torchscript, max_abs_difference, onnx_session, parallel_dags
    from .model import SwiftNet
    from .profiling import measure_latency

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    rows: list[dict[str, Any]] = []

    def row(backend: str, threads: int, ms: float, diff: float) -> None:
        rows.append({"model": name, "backend": backend, "threads": threads, "latency_ms": ms, "max_abs_diff": diff})

    if "eager" in backends:
        for t in threads:
            row("eager", t, measure_latency(model, input_shape, runs=runs, warmup=warmup, threads=t).median_ms, 0.0)
    if "torchscript" in backends:
        ts = export_torchscript(model, input_shape)
        diff_ts = max_abs_difference(model, ts, input_shape)
        for t in threads:
            row("torchscript", t, measure_latency(ts, input_shape, runs=runs, warmup=warmup, threads=t).median_ms, diff_ts)
    if "torchscript, DAGs forked" in backends and isinstance(model, SwiftNet):
        with parallel_dags(model):
            tsp = export_torchscript(model, input_shape)
        row("torchscript, DAGs forked", 2, measure_latency(tsp, input_shape, runs=runs, warmup=warmup, threads=1).median_ms,
            max_abs_difference(model, tsp, input_shape))
    ort_runs = [(label, kw, t) for label, kw, t in
                [("onnxruntime", {"intra_op_threads": t}, t) for t in threads]
                + [("onnxruntime, parallel", {"intra_op_threads": 1, "inter_op_threads": 2, "parallel": True}, 2)]
                if label in backends]
    if not ort_runs:
        return rows
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return rows
    path = export_onnx(model, input_shape, workdir / f"{name}.onnx")
    x = np.random.default_rng(0).standard_normal((1, *input_shape)).astype(np.float32)
    for label, kw, nt in ort_runs:
        sess = onnx_session(path, **kw)
        inp = sess.get_inputs()[0].name
        for _ in range(warmup):
            sess.run(None, {inp: x})
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, {inp: x})
            times.append((time.perf_counter() - t0) * 1e3)
        row(label, nt, statistics.median(times), max_abs_difference(model, sess, input_shape))
    return rows


def recommended_proxy(metrics_path: str | Path, variants: Mapping[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The proxy variant a ``10_proxy`` run recommends: its name and its settings (``{}`` for the profile's default).

    Args:
        metrics_path: that run's ``10_proxy.metrics.json``.
        variants: the variants it was run with (``params.yaml``: ``scales.<scale>.proxy.variants``).

    Raises:
        ValueError: the file is missing or names a variant that ``variants`` does not hold.
    """
    path = Path(metrics_path)
    try:
        name = json.loads(path.read_text())["recommended"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"cannot read the recommended proxy from {path}: {e!r}; run the proxy stage first") from e
    if name is None:
        raise ValueError(f"{path}: the proxy study found no variant within its cost target; raise max_cost_ratio "
                         "or add cheaper variants")
    if name == "default":
        return name, {}
    if name not in variants:
        raise ValueError(f"{path} recommends proxy variant {name!r}, which is not among {sorted(variants)}")
    return name, dict(variants[name])


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (accuracy, latency) points no other point beats on both (higher accuracy at no more latency),
    sorted by accuracy; along it latency rises with accuracy."""
    front: list[tuple[float, float]] = []
    for acc, ms in sorted(points, key=lambda p: (p[1], -p[0])):  # by latency, fastest first
        if not front or acc > front[-1][0]:
            front.append((acc, ms))
    return front


def latency_at_accuracy(points: Sequence[tuple[float, float]], accuracy: float) -> float:
    """Latency of the (accuracy, latency) curve at ``accuracy``: interpolated along its Pareto front, linear in
    log-latency; NaN outside the front's accuracy range (never extrapolated)."""
    front = pareto_front(points)
    if not front or not front[0][0] <= accuracy <= front[-1][0]:
        return math.nan
    if len(front) == 1:
        return front[0][1]
    accs = [a for a, _ in front]
    return float(np.exp(np.interp(accuracy, accs, [math.log(ms) for _, ms in front])))


def speedup_at_equal_accuracy(candidate: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]]
                              ) -> list[dict[str, Any]]:
    """The candidate's speed-up over the baseline at equal accuracy, read off two accuracy–latency curves.

    Each curve is its Pareto front (a model beaten on both accuracy and latency by its own family is not on
    the curve). For each baseline point, the candidate curve's latency at that accuracy (``direction`` "at baseline
    accuracy"); for each candidate point, the baseline curve's latency at its accuracy ("at candidate
    accuracy"). ``speedup`` = baseline latency / candidate latency (> 1: the candidate is faster); NaN where
    the accuracy lies outside the other curve's range.

    Outside that range the curves still bound the speed-up, if latency rises with accuracy beyond the
    measured points: a baseline point less accurate than the candidate's fastest model is at least
    ``baseline ms / fastest candidate ms`` slower than a candidate of its accuracy would be (``bound``
    "at least"); a candidate more accurate than the baseline's slowest model is at least ``slowest baseline
    ms / candidate ms`` faster; the mirror cases give "at most". ``speedup_bound`` holds that number (the
    speed-up itself, ``bound`` "equal", inside the range).

    Args:
        candidate, baseline: (accuracy, latency) points, e.g. SwiftNets and MobileNetV2 widths.
    """
    front_c, front_b = pareto_front(candidate), pareto_front(baseline)

    def bound(acc: float, other: list[tuple[float, float]], *, other_is_candidate: bool) -> tuple[str, float]:
        """Bound on the other curve's latency at ``acc`` from its end points, as (kind of speed-up bound, ms)."""
        if not other:
            return "none", math.nan
        if acc < other[0][0]:  # the other family's fastest model is already more accurate
            return ("at least" if other_is_candidate else "at most"), other[0][1]
        return ("at most" if other_is_candidate else "at least"), other[-1][1]  # it needs more than its slowest

    rows = []
    for acc, ms in front_b:
        c = latency_at_accuracy(candidate, acc)
        kind, c_ms = ("equal", c) if c == c else bound(acc, front_c, other_is_candidate=True)
        rows.append({"direction": "at baseline accuracy", "accuracy": acc, "baseline_ms": ms, "candidate_ms": c,
                     "speedup": ms / c if c == c else math.nan, "bound": kind,
                     "speedup_bound": ms / c_ms if c_ms == c_ms else math.nan})
    for acc, ms in front_c:
        b = latency_at_accuracy(baseline, acc)
        kind, b_ms = ("equal", b) if b == b else bound(acc, front_b, other_is_candidate=False)
        rows.append({"direction": "at candidate accuracy", "accuracy": acc, "baseline_ms": b, "candidate_ms": ms,
                     "speedup": b / ms if b == b else math.nan, "bound": kind,
                     "speedup_bound": b_ms / ms if b_ms == b_ms else math.nan})
    return rows


def summarize_speedup(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Geometric mean, minimum and maximum of the finite speed-ups, and how many points had one; and, when the
    curves do not overlap (or beside the overlap), ``at_least``: the geometric mean over the points with a
    speed-up or an "at least" bound (so itself a lower bound), with ``at_least_points``."""
    s = [r["speedup"] for r in rows if r["speedup"] == r["speedup"]]
    lower = [r["speedup_bound"] for r in rows if r.get("bound") in ("equal", "at least")
             and r.get("speedup_bound", math.nan) == r.get("speedup_bound", math.nan)]
    geo = (lambda v: float(np.exp(np.mean(np.log(v)))) if v else math.nan)
    out = {"geomean": geo(s), "min": min(s) if s else math.nan, "max": max(s) if s else math.nan, "points": len(s)}
    return {**out, "at_least": geo(lower), "at_least_points": len(lower)}


def speedup_table(latencies: Any, by: Sequence[str] = ("input", "backend"), *, latency: str = "latency_ms",
                  candidate: str = "SwiftNet", baseline: str = "MobileNetV2"
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`speedup_at_equal_accuracy` and :func:`summarize_speedup` for every group of a latency table.

    Args:
        latencies: a pandas DataFrame with columns ``family``, ``top1``, ``latency`` and those of ``by``
            (e.g. ``06_imagenet_tables2_3/latency_1thread.csv``).
        by: the columns that make one comparison (one input size and backend each).
        latency: the column of milliseconds to compare.
        candidate, baseline: the two ``family`` values.

    Returns:
        the point-by-point rows and one summary row per group, each led by the group's ``by`` values. With a
        ``model`` column, a summary row also names the candidates inside the baseline curve's accuracy range
        (``candidates_in_range``, "name (top-1 %)"): the models an interpolated speed-up rests on.
    """
    by = list(by)
    points: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for key, group in latencies.groupby(by):
        head = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        curves = {fam: list(zip(g.top1, g[latency])) for fam, g in group.groupby("family")}
        rows = speedup_at_equal_accuracy(curves.get(candidate, []), curves.get(baseline, []))
        points += [{**head, **r} for r in rows]
        summary.append({**head, **summarize_speedup(rows)})
        front = pareto_front(curves.get(baseline, []))
        if "model" in group and front:
            inside = group[(group.family == candidate) & (group.top1 >= front[0][0]) & (group.top1 <= front[-1][0])]
            summary[-1]["candidates_in_range"] = ", ".join(f"{m} ({t:.1f} %)" for m, t in
                                                           sorted(zip(inside.model, inside.top1), key=lambda p: p[1]))
    return points, summary


def accuracy_gaps(rows: Sequence[Mapping[str, Any]], *, tolerance_points: float = 5.0, label: str = "model",
                  ours: str = "accuracy", theirs: str = "paper_accuracy") -> list[dict[str, Any]]:
    """Each row's accuracy against the paper's: the gap in points and whether it is within ``tolerance_points``.

    Rows without a number (not run) get verdict "not run". ``verdict`` is "within N points" or
    "short by X points" (ours below the paper's by more than the tolerance) or "above the paper".
    """
    out = []
    for r in rows:
        a, p = r.get(ours), r.get(theirs)
        if a is None or p is None or a != a or p != p:
            out.append({label: r.get(label), "ours": a, "paper": p, "gap_points": math.nan, "verdict": "not run"})
            continue
        gap = p - a
        verdict = ("above the paper" if gap < 0 else f"within {tolerance_points:g} point{'' if tolerance_points == 1 else 's'}"
                   if gap <= tolerance_points
                   else f"short by {gap:.1f} points")
        out.append({label: r.get(label), "ours": a, "paper": p, "gap_points": gap, "verdict": verdict})
    return out


def network_left(row: dict[str, Any]) -> str:
    """What budget matching left of a pruned network, from a Table 4 row: its convolutions, the hierarchies pruned
    to identities and, when thinned, the width multiplier (e.g. "32 convolutions at width 0.25, no hierarchy
    pruned to identities")."""
    n, ident = int(row["active_nodes"]), int(row["identity_hierarchies"])
    width = row.get("width")
    thinned = width is not None and not math.isnan(float(width)) and float(width) != 1.0
    at = f" at width {float(width):g}" if thinned else ""
    hier = ("no hierarchy" if ident == 0 else "1 hierarchy" if ident == 1 else f"{ident} hierarchies")
    return f"{n} convolution{'' if n == 1 else 's'}{at}, {hier} pruned to identities"
