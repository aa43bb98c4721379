"""Part stages: some rows of a long table trained in a DVC stage of their own, before the table's notebook.

A table whose trainings would run a stage past two hours on the slower of our 2-core machines names those rows in
params.yaml, ``part_rows`` (a glob on row names, e.g. ``"MobileNetV2-*"``): Table 1 and the ImageNet stand-in's
Tables 2–3 at the cpu scale. The search can do the same with its one "row", ``random`` (its twin), though the cpu
scale now runs the twin beside the GRAM search instead (:func:`gramlib.executors.run_side_by_side`). dvc.yaml's ``<stage>_part@<scale>`` trains them first
(``python -m gramlib.pipeline <notebook> --scale <scale> --part``) and records each finished row in
``results/<scale>/<notebook>.part/``; the notebook's stage then reads those records instead of training the rows
again, and trains the rest. The records are committed with the results, so a part finished on one machine
counts on the next. With ``part_rows: null`` the part stage only writes an empty ``part.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Callable

from .io import atomic_write_json
from .pipeline import ParamsError, check_params, checkpoints, git_commit, hardware, results_dir


def part_dir(scale: str, notebook: str) -> Path:
    """Where ``notebook``'s part stage records its rows at ``scale``."""
    return results_dir(scale) / f"{notebook}.part"


def records_for(scale: str, notebook: str) -> list[Path]:
    """The record folders ``notebook`` reads at ``scale`` (its part stage's, once that has run)."""
    d = part_dir(scale, notebook)
    return [d] if (d / "part.json").exists() else []


def _table1_names(section: dict[str, Any], mg) -> list[str]:
    from .tables import table1_names

    return [name for name, _ in table1_names(mg, section["budgets_mmacs"], section["grid_points"])]


def _table1(section: dict[str, Any], scale: str, mg, only: str, record_to: Path) -> list[dict[str, Any]]:
    from .experiments import load_train_test
    from .tables import table1_rows

    tr, te = load_train_test("cifar10", train_limit=section["train_limit"], test_limit=section["test_limit"],
                             seed=section["seed"])
    return table1_rows(mg, tr, te, budgets_mmacs=section["budgets_mmacs"], epochs=section["epochs"],
                       recipe=section["recipe"], grid_points=section["grid_points"], seed=section["seed"],
                       ckpt_dir=checkpoints(scale), only=only, record_to=record_to)


def _imagenet_names(section: dict[str, Any], mg) -> list[str]:
    from .tables import imagenet_jobs

    return [job[0] for size in section["sizes"]
            for job in imagenet_jobs(size, section["levels"], section["scales"], section["thin_scales"],
                                     section["mobilenet_widths"], section["mobilenet_width"])]


def _imagenet(section: dict[str, Any], scale: str, mg, only: str, record_to: Path) -> list[dict[str, Any]]:
    from .tables import imagenet_rows

    settings = {k: v for k, v in section.items() if k != "part_rows"}
    rows, _ = imagenet_rows(mg, **settings, ckpt_dir=checkpoints(scale), only=only, record_to=record_to)
    return rows


#: the search notebook's settings that are :class:`~gramlib.search.SearchConfig` fields
_SEARCH_FIELDS = ("iterations", "seed", "dataset", "fused_bn_elu", "latency_runs", "threads", "workers", "executor",
                  "ray_address")


def _search_names(section: dict[str, Any], mg) -> list[str]:
    return ["random"] if section["random_baseline"] else []


def _search(section: dict[str, Any], scale: str, mg, only: str, record_to: Path) -> list[dict[str, Any]]:
    """The search's random twin (same sampler and proxy, weights never updated), searched into ``record_to``."""
    from dataclasses import replace

    from .search import search_in, search_settings

    fields = {k: section[k] for k in _SEARCH_FIELDS}
    p, config = search_settings(section["profile"], section["proxy"], **fields)
    search_in(record_to, p.space, p.rule, replace(config, mode="random"))
    return [{"model": "random"}]


def random_twin_root(scale: str, runs: str | Path) -> Path:
    """Where the search notebook finds (or runs) its random twin: the part stage's folder when that stage ran it,
    else ``runs``, the notebook's own search folder."""
    d = part_dir(scale, "01_search")
    try:
        done = json.loads((d / "part.json").read_text())["rows"]
    except (OSError, ValueError, KeyError):
        done = []
    return d if "random" in done else Path(runs)


#: notebooks whose rows a part stage can run → (their row names, the function that runs the rows matching a glob,
#: whether it needs the published meta-graph: the search's part runs before there is one)
RUNNERS: dict[str, tuple[Callable[[dict[str, Any], Any], list[str]],
                         Callable[[dict[str, Any], str, Any, str, Path], list[dict[str, Any]]], bool]] = {
    "01_search": (_search_names, _search, False),
    "04_table1_cifar10": (_table1_names, _table1, True),
    "06_imagenet_tables2_3": (_imagenet_names, _imagenet, True),
}


def run_part(notebook: str, scale: str, params_file: str | Path | None = None) -> Path:
    """Train and record the rows of ``notebook`` that params.yaml's ``part_rows`` names at ``scale``; returns the
    record folder.

    Raises:
        ParamsError: the notebook has no part stage, or ``part_rows`` matches none of its rows.
    """
    if notebook not in RUNNERS:
        raise ParamsError(f"{notebook} has no part stage (those that have: {', '.join(RUNNERS)})")
    section = check_params(notebook, scale, params_file)
    only = section.get("part_rows")
    names, train_rows, reads_metagraph = RUNNERS[notebook]
    mg = None
    if only:  # checked before anything is written or loaded
        if reads_metagraph:
            from .metagraph import MetaGraph

            mg = MetaGraph.load(results_dir(scale) / "search_run" / "metagraph.json")
        every = names(section, mg)
        if not any(fnmatch(n, only) for n in every):
            raise ParamsError(f"scales.{scale}: part_rows {only!r} of {notebook} matches none of its rows "
                              f"({', '.join(every)})")
    out = part_dir(scale, notebook)
    out.mkdir(parents=True, exist_ok=True)
    commit, started, t0 = git_commit(), _dt.datetime.now(_dt.timezone.utc), time.perf_counter()
    rows = train_rows(section, scale, mg, only, out) if only else []
    print(f"{notebook} part at scale {scale}: {len(rows)} row(s) recorded in {os.path.relpath(out)} "
          f"({', '.join(r['model'] for r in rows) or 'part_rows is null: nothing to train'})", flush=True)
    atomic_write_json(out / "part.json", {
        "notebook": notebook, "scale": scale, "part_rows": only, "rows": [r["model"] for r in rows],
        "commit": commit, "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - t0, 1), "hardware": hardware()})
    return out
