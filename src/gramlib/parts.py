"""Part stages: some rows of a long table trained in a DVC stage of their own, before the table's notebook.

A table whose trainings would run a stage past two hours (Table 1 and the ImageNet stand-in's Tables 2–3 at the
cpu scale, on the slower of our 2-core machines) names those rows in params.yaml, ``part_rows`` (a glob on row
names, e.g. ``"MobileNetV2-*"``). dvc.yaml's ``<stage>_part@<scale>`` trains them first
(``python -m gramlib.pipeline <notebook> --scale <scale> --part``) and records each finished row in
``results/<scale>/<notebook>.part/``; the notebook's stage then reads those records instead of training the rows
again, and trains the rest. The records are committed with the results, so a part finished on one machine
counts on the next. With ``part_rows: null`` the part stage only writes an empty ``part.json``.
"""

from __future__ import annotations

import datetime as _dt
import time
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


def _table1(section: dict[str, Any], scale: str, only: str, record_to: Path) -> list[dict[str, Any]]:
    from .experiments import load_train_test
    from .metagraph import MetaGraph
    from .tables import table1_rows

    mg = MetaGraph.load(results_dir(scale) / "search_run" / "metagraph.json")
    tr, te = load_train_test("cifar10", train_limit=section["train_limit"], test_limit=section["test_limit"],
                             seed=section["seed"])
    return table1_rows(mg, tr, te, budgets_mmacs=section["budgets_mmacs"], epochs=section["epochs"],
                       recipe=section["recipe"], grid_points=section["grid_points"], seed=section["seed"],
                       ckpt_dir=checkpoints(scale), only=only, record_to=record_to)


def _imagenet(section: dict[str, Any], scale: str, only: str, record_to: Path) -> list[dict[str, Any]]:
    from .metagraph import MetaGraph
    from .tables import imagenet_rows

    mg = MetaGraph.load(results_dir(scale) / "search_run" / "metagraph.json")
    settings = {k: v for k, v in section.items() if k != "part_rows"}
    rows, _ = imagenet_rows(mg, **settings, ckpt_dir=checkpoints(scale), only=only, record_to=record_to)
    return rows


#: notebooks whose rows a part stage can train → the function that trains the rows matching a glob
RUNNERS: dict[str, Callable[[dict[str, Any], str, str, Path], list[dict[str, Any]]]] = {
    "04_table1_cifar10": _table1,
    "06_imagenet_tables2_3": _imagenet,
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
    out = part_dir(scale, notebook)
    out.mkdir(parents=True, exist_ok=True)
    commit, started, t0 = git_commit(), _dt.datetime.now(_dt.timezone.utc), time.perf_counter()
    rows = RUNNERS[notebook](section, scale, only, out) if only else []
    if only and not rows:
        raise ParamsError(f"scales.{scale}: part_rows {only!r} of {notebook} matches none of its rows")
    atomic_write_json(out / "part.json", {
        "notebook": notebook, "scale": scale, "part_rows": only, "rows": [r["model"] for r in rows],
        "commit": commit, "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - t0, 1), "hardware": hardware()})
    return out
