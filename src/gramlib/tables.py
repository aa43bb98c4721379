"""The trained rows of Table 1 (CIFAR-10) and Tables 2–3 (ImageNet stand-in), as their notebooks report them.

One function per table builds its models from the meta-graph, trains and scores each
(:func:`gramlib.experiments.fit_and_score`) and returns the rows. The notebook calls it for every row;
a pipeline part stage (:mod:`gramlib.parts`) calls it with ``only``, a glob on row names, to train some
rows in a stage of their own and record them, so that no stage of a long table runs past two hours.

Args shared by both:
    only: train just the rows whose name matches this glob (e.g. ``"MobileNetV2-*"``); others are skipped.
    records: folders of rows recorded by part stages, returned untrained (``fit_and_score``).
    record_to: folder to record each finished row in.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Callable, Iterable

from torch import nn

from . import paper
from .experiments import fit_and_score, load_train_test, mobilenet_v2
from .data import ImageData
from .metagraph import MetaGraph
from .model import build_model
from .shape import fit_budgets, level_grid, levels_for_budgets
from .train import recipe_with


def _wanted(name: str, only: str | None) -> bool:
    return only is None or fnmatch(name, only)


def per_row(value: Any, n: int, what: str) -> list[Any]:
    """``value`` for each of ``n`` rows: a list of ``n`` values, or one value for all."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{what}: {value!r} gives {len(values)} values for {n} rows")
    return values


def table1_names(mg: MetaGraph, budgets_mmacs: Iterable[float], grid_points: int) -> list[tuple[str, dict[str, Any]]]:
    """Each Table 1 row's name, with the model :func:`gramlib.shape.fit_budgets` picks for its budget (Figure 5's
    level, or across a cliff of the profile a channel scale too): the paper's name for a model of that size
    (``SwiftNet-0.65`` at 3 M MACs), or the level used for a budget the paper does not have."""
    paper_level = {r["mmacs"]: r["level"] for r in paper.TABLE1}
    return [(f"SwiftNet-{paper_level.get(pick['budget_mmacs'], pick['level'])}", pick)
            for pick in fit_budgets(mg, list(budgets_mmacs), levels=level_grid(grid_points))]


def table1_rows(mg: MetaGraph, train_data: ImageData, test_data: ImageData, *, budgets_mmacs: Iterable[float],
                epochs: int | list[int], recipe: str, grid_points: int, seed: int, ckpt_dir: str | Path,
                archs_dir: str | Path | None = None, only: str | None = None, records: Iterable[str | Path] = (),
                record_to: str | Path | None = None) -> list[dict[str, Any]]:
    """Table 1: the meta-graph pruned to each MAC budget (Figure 5's method; across a cliff of its profile also
    channel-scaled, :func:`gramlib.shape.fit_budgets`), trained on ``train_data``.

    Args:
        epochs: for every row, or one per budget (the largest model is the slowest to train).
        recipe: a :data:`gramlib.train.RECIPES` name.
        archs_dir: where each row's architecture is saved as ``<name>.json``.
    """
    budgets = list(budgets_mmacs)
    row_epochs = per_row(epochs, len(budgets), "table1.epochs")
    records = list(records)  # iterated once per row, so an iterator must become a list
    rows = []
    for (name, pick), n_epochs in zip(table1_names(mg, budgets, grid_points), row_epochs):
        if not _wanted(name, only):
            continue
        arch = mg.prune(pick["level"])
        if pick["scale"] != 1.0:  # across a cliff of the profile (fit_budgets)
            arch = arch.scale_channels(pick["scale"])
        if archs_dir is not None:
            Path(archs_dir).mkdir(parents=True, exist_ok=True)
            arch.save(Path(archs_dir) / f"{name}.json")
        r = fit_and_score(name, lambda: build_model(arch, 10, 3), train_data, test_data, recipe_with(recipe, epochs=n_epochs),
                          key={"arch": arch.to_dict()}, seed=seed, ckpt_dir=ckpt_dir, records=records, record_to=record_to)
        rows.append({**r, "level_used": pick["level"], "scale_used": pick["scale"], "fit": pick["rule"],
                     "macs_per_param": r["mmacs"] / r["mparams"]})
    return rows


def mobilenet_widths_at(size: int, mobilenet_widths: list[float] | dict[Any, list[float]],
                        mobilenet_width: float) -> list[float]:
    """MobileNetV2 widths trained at input ``size`` (a list for every size, or {size: widths}); Table 2's
    baseline ``mobilenet_width`` always among them."""
    if isinstance(mobilenet_widths, dict):
        w = mobilenet_widths.get(size, mobilenet_widths.get(str(size), []))
    else:
        w = mobilenet_widths
    return sorted(set(w) | {mobilenet_width})


def imagenet_jobs(size: int, levels: list[float], scales: Iterable[float], thin_scales: Iterable[float],
                  mobilenet_widths: list[float] | dict[Any, list[float]], mobilenet_width: float) -> list[tuple[str, str, Any]]:
    """The rows of Tables 2-3 at input ``size``, in table order, as (name, family, spec): Table 3's SwiftNets by
    level (spec: level, up-scaling, whether a Table 3 row), the first level's 1.00 model thinned to
    ``thin_scales`` (the accuracy-latency curve only), then MobileNetV2 at its widths (spec: width)."""
    jobs: list[tuple[str, str, Any]] = []
    for level in levels:
        for s, in_table3 in [(s, True) for s in scales] + [(s, False) for s in (thin_scales if level == levels[0] else [])]:
            jobs.append((f"SwiftNet-{size}-{level}-{s:.2f}", "swiftnet", (level, s, in_table3)))
    jobs += [(f"MobileNetV2-{w}-{size}", "mobilenet", w) for w in mobilenet_widths_at(size, mobilenet_widths, mobilenet_width)]
    return jobs


def imagenet_rows(mg: MetaGraph, *, dataset: str, data_dir: str | None, sizes: Iterable[int], levels: list[float],
                  scales: Iterable[float], thin_scales: Iterable[float], at_paper_macs: bool, grid_points: int,
                  recipe: str, epochs: int, train_limit: int | None, test_limit: int | None, mobilenet_width: float,
                  mobilenet_widths: list[float] | dict[Any, list[float]], latency_runs: int, seed: int,
                  ckpt_dir: str | Path, archs_dir: str | Path | None = None, only: str | None = None,
                  records: Iterable[str | Path] = (), record_to: str | Path | None = None
                  ) -> tuple[list[dict[str, Any]], dict[str, Callable[[], nn.Module]]]:
    """Table 3's SwiftNets (input, level, up-scaling; pruned to the paper's MACs if ``at_paper_macs``), the first
    level's 1.00 row thinned to ``thin_scales`` (the accuracy–latency curve only, ``table3`` False) and
    MobileNetV2 at its widths, all with one recipe and ``epochs``.

    Returns:
        the rows, and each row's model builder (an untrained copy, for the side-by-side latency).
    """
    r_recipe = recipe_with(recipe, epochs=epochs)
    records = list(records)  # iterated once per row, so an iterator must become a list
    paper_macs = {(r["input"], r["level"], r["scale"]): r["mmacs"] for r in paper.TABLE3}
    rows: list[dict[str, Any]] = []
    models: dict[str, Callable[[], nn.Module]] = {}
    for size in sizes:
        # named first, so that a size none of whose rows is wanted loads no data
        jobs = [job for job in imagenet_jobs(size, levels, scales, thin_scales, mobilenet_widths, mobilenet_width)
                if _wanted(job[0], only)]
        if not jobs:
            continue
        train_data, test_data = load_train_test(dataset, input_size=size, train_limit=train_limit, test_limit=test_limit,
                                                seed=seed, data_dir=data_dir)
        n_cls = len(train_data.classes)
        common = dict(seed=seed, ckpt_dir=ckpt_dir, topk=(1, 5), latency_runs=latency_runs, latency_threads=(2,),  # 1 thread: side by side
                      records=records, record_to=record_to)
        for name, family, spec in jobs:
            if family == "swiftnet":
                level, s, in_table3 = spec
                s_pick = s if in_table3 else 1.0  # a thinned model is the 1.00 row's architecture with fewer channels
                target = paper_macs.get((size, level, s_pick))
                level_used = level
                if at_paper_macs and target:  # Figure 5's method: the level whose model (at this input and up-scaling) has the paper's MACs
                    (pick,) = levels_for_budgets(mg, [target], levels=level_grid(grid_points), input_shape=(3, size, size), scale=s_pick)
                    level_used = pick["level"]
                arch = mg.prune(level_used)
                arch = arch.scale_channels(s) if s != 1.0 else arch
                if archs_dir is not None:
                    Path(archs_dir).mkdir(parents=True, exist_ok=True)
                    arch.save(Path(archs_dir) / f"{name}.json")
                models[name] = lambda arch=arch, size=size, n_cls=n_cls: build_model(arch, n_cls, 3, input_size=size)
                r = fit_and_score(name, models[name], train_data, test_data, r_recipe,
                                  key={"arch": arch.to_dict(), "size": size}, **common)
                rows.append({"family": "SwiftNet", "input": size, "level": level, "level_used": level_used, "scale": s,
                             "table3": in_table3, **r})
            else:
                w = spec
                models[name] = lambda w=w, n_cls=n_cls: mobilenet_v2(w, n_cls)
                r = fit_and_score(name, models[name], train_data, test_data, r_recipe,
                                  key={"mobilenet_v2": w, "size": size}, **common)
                rows.append({"family": "MobileNetV2", "input": size, "level": None, "scale": w, "table3": False, **r})
    return rows, models
