"""Running the replication notebooks and writing what they produce.

``python -m gramlib.pipeline NOTEBOOK --scale quick`` executes
``notebooks/NOTEBOOK.ipynb`` with papermill, injecting the settings of that
scale from ``params.yaml`` (``scales.<scale>.<NOTEBOOK section>``), and writes the
rendered copy to ``results/<scale>/notebooks/``. Each scale writes under its own
``results/<scale>/``, so a quick or smoke run never overwrites the full results.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .io import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]

def _notebooks() -> dict[str, str]:
    """Notebook file stem → its stage and ``params.yaml`` section, read from dvc.yaml (each stage's command is
    ``bash bin/stage <notebook> --scale ...``), so that the list of pipeline notebooks has one home: adding a
    notebook touches the notebook, its dvc.yaml block and its params.yaml sections."""
    import re

    import yaml

    f = ROOT / "dvc.yaml"
    if not f.exists():  # an installed package outside the project: no pipeline
        return {}
    found = {}
    for stage, body in (yaml.safe_load(f.read_text()).get("stages") or {}).items():
        cmd = str((body.get("do") or body).get("cmd", ""))
        m = re.search(r"bin/stage\s+(\S+)", cmd)
        if m and "--part" not in cmd:  # a part stage (gramlib.parts) trains some of a notebook's rows: not a notebook stage
            found[m.group(1)] = stage
            over = re.fullmatch(r"\$\{(\w+)\}", str(body.get("foreach", "")).strip())
            _RUN_OVER[m.group(1)] = over.group(1) if over else "scales"
    return dict(sorted(found.items()))


#: notebook file stem → the params.yaml mapping its stage's ``foreach`` runs over: ``scales`` (every scale) or
#: ``studies`` (the scales that run the studies of our own choices)
_RUN_OVER: dict[str, str] = {}
#: notebook file stem → its section in params.yaml (from dvc.yaml, in file order)
NOTEBOOKS = _notebooks()


def _params_file(path: str | Path | None = None) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((Path(path) if path else ROOT / "params.yaml").read_text())


def _all_scales(path: str | Path | None = None) -> dict[str, Any]:
    """Every scale's settings (``scales`` of params.yaml)."""
    return _params_file(path)["scales"]


def notebooks_at(scale: str, params_file: str | Path | None = None) -> dict[str, str]:
    """The pipeline notebooks that run at ``scale`` (notebook → params.yaml section): every notebook whose
    dvc.yaml stage runs over ``scales``, and those over ``studies`` when params.yaml lists the scale there."""
    doc = _params_file(params_file)
    return {name: section for name, section in NOTEBOOKS.items()
            if _RUN_OVER.get(name, "scales") == "scales" or scale in (doc.get(_RUN_OVER[name]) or {})}


def load_params(scale: str, path: str | Path | None = None, *, scales: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings of one scale (``scales.<scale>`` of params.yaml, or of ``scales`` when already read)."""
    if scales is None:
        scales = _all_scales(path)
    if scale not in scales:
        raise ValueError(f"unknown scale {scale!r}; params.yaml defines {sorted(scales)}")
    return scales[scale]


class ParamsError(ValueError):
    """params.yaml does not match what a notebook's ``parameters`` cell declares."""


#: settings that may be given per row (a list where the notebook default is one number) or per key (a mapping of
#: such values): the notebooks that read them say so in their parameters cell; any other setting must be the
#: notebook default's type, so e.g. ``seed: [1, 2]`` is refused, not silently taken as a seed list
PER_ROW = {("table1", "epochs")}
PER_KEY = {("imagenet", "mobilenet_widths"), ("table4", "width")}
#: settings that may also be the string "auto" (whole or per key): gramlib derives the value (Table 4's width:
#: gramlib.shape.auto_width)
AUTO = {("table4", "width")}


def _compatible(value: Any, default: Any, *, per_row: bool = False, per_key: bool = False, auto: bool = False) -> bool:
    """Whether a params.yaml value may replace a notebook default: None stands for "all"/"off" anywhere; a number
    where the default is a float (an int only where it is an int); with ``per_row``, a list of such; with
    ``per_key``, a mapping of such; with ``auto``, "auto" in place of any one value."""
    if value is None or default is None or (auto and value == "auto"):
        return True
    if per_key and isinstance(default, dict):  # a per-key default: each value must be like its values
        return all(_compatible(value, d, per_row=per_row, per_key=True, auto=auto) for d in list(default.values())[:1])
    if per_key and isinstance(value, dict):
        return all(_compatible(v, default, per_row=per_row, auto=auto) for v in value.values())
    if per_row and isinstance(value, list) and not isinstance(default, (list, tuple)):
        return all(_compatible(v, default) for v in value)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _value_rules() -> dict[str, tuple[str, Callable[[Any], bool], bool]]:
    """Setting name → (allowed values, test of one value, whether null is allowed). A name means the same in
    every notebook; choices come from gramlib's own registries (profiles, recipes, datasets, layouts, executors),
    so a new profile or dataset is allowed here the moment it exists. Lists and per-row/per-key mappings are
    tested value by value."""
    from .data import DATASETS
    from .executors import EXECUTORS
    from .profiles import PROFILES
    from .skeleton import LAYOUTS
    from .space import PRUNE_REFERENCES
    from .train import RECIPES

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def integer(lo: int) -> tuple[str, Callable[[Any], bool], bool]:
        return f"an integer >= {lo}", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo, False

    def one_of(names: Any, extra: tuple[str, ...] = ()) -> tuple[str, Callable[[Any], bool], bool]:
        allowed = [*names, *extra]
        return "one of " + ", ".join(map(str, allowed)), lambda v: v in allowed, False

    level = ("a pruning level in [0, 1]", lambda v: number(v) and 0 <= v <= 1, False)
    positive = ("a number > 0", lambda v: number(v) and v > 0, False)
    threads = ("null (the profile's) or an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, True)
    limit = ("null (all) or an integer >= 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, True)
    rules = {
        "profile": one_of(PROFILES), "recipe": one_of(RECIPES), "executor": one_of(EXECUTORS),
        "dataset": one_of(DATASETS, ("imagenet",)), "datasets": one_of(DATASETS), "layouts": one_of(LAYOUTS),
        "references": one_of(PRUNE_REFERENCES), "select_by": one_of(("icc", "tau")),
        "iterations": integer(1), "search_iterations": integer(1), "epochs": integer(1), "reference_epochs": integer(1),
        "grid_points": integer(2), "latency_runs": integer(1), "workers": integer(1), "archs": integer(1),
        "reference_archs": integer(2), "confirm_archs": integer(1), "sizes": integer(16),
        "seed": integer(0), "seeds": integer(0), "search_seeds": integer(0),
        "train_limit": limit, "test_limit": limit, "reference_train_images": limit, "reference_test_images": limit,
        "level": level, "levels": level, "heavy_level": level, "light_level": level, "reference_levels": level,
        "budgets_mmacs": positive, "budget_mmacs": positive, "extra_budgets_mmacs": positive,
        "train_budget_mmacs": positive, "mobilenet_width": positive, "mobilenet_widths": positive,
        "width": ('a number > 0 or "auto" (derived from the meta-graph)', lambda v: v == "auto" or (number(v) and v > 0), False),
        "scales": positive, "max_cost_ratio": positive, "parallel_searches": integer(1),
        "threads": threads, "search_threads": threads,
        "thin_scales": ("a channel scale in (0, 1) (a thinner copy of a SwiftNet)", lambda v: number(v) and 0 < v < 1, False),
    }
    return rules


def _values(v: Any) -> list[Any]:
    """The single values of a setting: itself, or the items of a list, or the values of a mapping (recursively)."""
    if isinstance(v, dict):
        return [x for item in v.values() for x in _values(item)]
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _values(item)]
    return [v]


def check_params(name: str, scale: str, params_file: str | Path | None = None, *,
                 scales: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings ``notebooks/<name>.ipynb`` gets at ``scale``, checked against its ``parameters`` cell.

    Raises:
        ParamsError: a key the notebook does not declare (a typo would otherwise fall back to the notebook's
            default silently), a declared key missing (same), a value of another type than the default's, or
            a value outside what gramlib accepts for that name (``_value_rules``: a profile, recipe or dataset
            gramlib does not know, a level outside [0, 1], zero epochs ...). Every problem is named with its
            key, scale and the allowed values.

    ``scales``: params.yaml's ``scales`` when the caller has read it already (:func:`check_all_params`).
    """
    import ast

    import papermill as pm

    if name not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {name!r}; choose one of {sorted(NOTEBOOKS)}")
    key = f"scales.{scale}.{NOTEBOOKS[name]}"
    if name not in notebooks_at(scale, params_file):  # a study notebook at a scale `studies` does not list
        over = _RUN_OVER[name]
        runs_at = _params_file(params_file).get(over) or {}
        raise ParamsError(f"{name} does not run at scale {scale!r}: its dvc.yaml stage runs over params.yaml's "
                          f"`{over}` ({', '.join(runs_at) or 'empty'}); add the scale there, with a section "
                          f"{key}, to run it")
    if scales is None:
        scales = _all_scales(params_file)
    section = load_params(scale, scales=scales).get(NOTEBOOKS[name])
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ParamsError(f"{key} in params.yaml must be a mapping, not {section!r}")
    declared = {k: v for k, v in pm.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb")).items() if k != "scale"}
    problems = [f"unknown key {key}.{k} (notebook {name} declares: {', '.join(declared) or 'nothing'})"
                for k in section if k not in declared]
    problems += [f"missing key {key}.{k} (notebook default {declared[k]['default']}: put it in params.yaml, so every "
                 "scale says what it runs)" for k in declared if k not in section]
    where = NOTEBOOKS[name]  # the params.yaml section, as PER_ROW / PER_KEY name it
    rules = _value_rules()
    for k, v in section.items():
        if k not in declared:
            continue
        try:
            default = ast.literal_eval(declared[k]["default"])
        except (ValueError, SyntaxError):
            default = None  # an expression: no type to compare
        if not _compatible(v, default, per_row=(where, k) in PER_ROW, per_key=(where, k) in PER_KEY,
                           auto=(where, k) in AUTO):
            problems.append(f"{key}.{k} = {v!r}: expected a value like the notebook default {declared[k]['default']}"
                            + (f" ({declared[k]['help']})" if declared[k].get("help") else ""))
            continue
        if k in rules:  # the type is right: is the value one gramlib accepts?
            allowed, ok, nullable = rules[k]
            bad = [x for x in _values(v) if not ((x is None and nullable) or (x is not None and ok(x)))]
            if bad:
                problems.append(f"{key}.{k} = {v!r}: {bad[0]!r} is not allowed (expected {allowed})")
        if k in ("proxy", "search_proxy"):  # proxy settings: what gramlib.evidence.proxy_variant accepts
            from .evidence import proxy_variant
            from .search import SearchConfig

            try:
                proxy_variant(SearchConfig(), v)
            except (ValueError, TypeError) as e:
                problems.append(f"{key}.{k} = {v!r}: {e}")
    if problems:
        raise ParamsError("params.yaml does not match the notebooks:\n  " + "\n  ".join(problems))
    return section


def check_all_params(scale: str, params_file: str | Path | None = None) -> None:
    """:func:`check_params` for every notebook, all problems in one error."""
    problems = []
    scales = _all_scales(params_file)  # read once for all notebooks
    for name in notebooks_at(scale, params_file):
        try:
            check_params(name, scale, params_file, scales=scales)
        except ParamsError as e:
            lines = str(e).splitlines()
            problems += lines[1:] if len(lines) > 1 else ["  " + lines[0]]  # a one-line error is the problem itself
    if problems:
        raise ParamsError("params.yaml does not match the notebooks:\n" + "\n".join(problems))


def recommended_proxy_at(scale: str, params_file: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """The proxy variant ``10_proxy`` recommends at ``scale`` (its name and settings), read from that scale's
    committed metrics and its params.yaml variants (a test holds the cpu search's proxy equal to it)."""
    from .evidence import recommended_proxy

    return recommended_proxy(ROOT / "results" / scale / "10_proxy.metrics.json",
                             load_params(scale, params_file)["proxy"]["variants"])


def results_dir(scale: str) -> Path:
    d = ROOT / "results" / scale
    d.mkdir(parents=True, exist_ok=True)
    return d


def checkpoints(scale: str) -> str:
    """Where a scale's training checkpoints live (``data/checkpoints/<scale>``, relative to the project root,
    which the notebooks run in): every notebook's trainings resume from here."""
    return f"data/checkpoints/{scale}"


def read_table(scale: str, path: str):
    """A table another notebook wrote, ``results/<scale>/<path>`` (a CSV), as a DataFrame; empty if that
    notebook has not run (its claims are then left out, not failed)."""
    import pandas as pd

    f = ROOT / "results" / scale / path
    return pd.read_csv(f) if f.exists() else pd.DataFrame()


def read_metrics(scale: str, stem: str) -> dict[str, Any]:
    """``results/<scale>/<stem>.metrics.json`` as a dict; empty if that notebook has not run."""
    f = ROOT / "results" / scale / f"{stem}.metrics.json"
    return json.loads(f.read_text()) if f.exists() else {}


def git_commit() -> str:
    """The checked-out commit (short), then "code of <commit>" naming the last commit that changed ``src/`` or
    ``notebooks/`` when that is an earlier one (stage-by-stage runs commit results between stages), and
    "+changes" when tracked files there differ from it; "unknown" outside git."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        code = git("log", "-1", "--format=%h", "HEAD", "--", "src", "notebooks")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "notebooks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" (code of {code})" if code and code != head else "") + ("+changes" if dirty else "")


def stripping_filter(scale: str) -> str | None:
    """Why git would commit ``results/<scale>``'s rendered notebooks without their outputs, or ``None``.

    ``make setup`` filters only the source notebooks (.gitattributes); ``nbstripout --install`` writes a filter
    for every ``*.ipynb`` into ``.git/info/attributes``, and the rendered copies would then reach git empty."""
    import subprocess

    probe = f"results/{scale}/notebooks/01_search.ipynb"
    try:
        attr = subprocess.run(["git", "check-attr", "filter", "--", probe], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout: nothing gets committed
    if "nbstripout" in attr:
        return (f"git would strip the outputs of the rendered notebooks in results/{scale} ({attr.strip()}; "
                "see .git/info/attributes, written by `nbstripout --install`): remove that filter first")
    return None


def hardware() -> str:
    """One line naming the CPU (and GPU) a result was produced on."""
    from .profiling import cpu_name  # not at module level: `--check` should not pay for importing fvcore
    cpu = cpu_name()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads){gpu}"


def run_info() -> dict[str, Any]:
    """Hardware and software a result was produced with (airbench style: recorded with the numbers)."""
    return {"commit": git_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def save_table(df, stem: str | Path, *, scale: str, caption: str = "") -> None:
    """Write ``stem.csv`` and ``stem.md``; the Markdown names the scale and says which columns are the paper's."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False))
    head = f"**{caption}** (scale: `{scale}`; columns starting `paper_` are the paper's reported numbers)\n\n"
    atomic_write_text(stem.with_suffix(".md"), head + df.to_markdown(index=False, floatfmt=".4g") + "\n")


def save_figure(fig, path: str | Path, *, scale: str) -> None:
    """Save a PNG with the scale written in the corner, so a figure is never mistaken for the full run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.text(0.995, 0.005, f"gramlib · scale: {scale}", ha="right", va="bottom", fontsize=7, color="0.4")
    fig.savefig(path, dpi=120, bbox_inches="tight")


def save_metrics(d: dict[str, Any], path: str | Path) -> None:
    atomic_write_json(path, d)


def run_notebook(name: str, scale: str, *, params_file: str | Path | None = None, progress: bool = True) -> Path:
    """Execute ``notebooks/<name>.ipynb`` at ``scale``; returns the rendered notebook's path."""
    import papermill as pm

    section = check_params(name, scale, params_file)  # before anything is written
    out = results_dir(scale) / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"scale": scale, **section}
    commit, started = git_commit(), _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    # bars go to the terminal, not into the rendered notebook (gramlib.progress)
    os.environ.setdefault("GRAMLIB_PROGRESS", "terminal")
    try:
        pm.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters=params,
                            cwd=str(ROOT), progress_bar=progress, log_output=True, kernel_name="python3")
    finally:
        if out.exists():
            stamp_notebook(out, scale=scale, commit=commit, started=started, seconds=time.perf_counter() - t0)
    return out


def stamp_notebook(path: Path, *, scale: str, commit: str, started: _dt.datetime, seconds: float) -> None:
    """Put a first cell into a rendered notebook saying where, when, on what and how long it ran."""
    import nbformat

    book = nbformat.read(path, as_version=4)
    text = (f"*Rendered by `python -m gramlib.pipeline` at scale **{scale}**, commit `{commit}`, "
            f"started {started.isoformat(timespec='seconds')}, wall time **{_duration(seconds)}**, on {hardware()}.*")
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = "run-stamp"
    cell.metadata["tags"] = ["run-stamp"]
    book.cells = [c for c in book.cells if "run-stamp" not in c.get("metadata", {}).get("tags", [])]
    book.cells.insert(0, cell)
    book.metadata.setdefault("gramlib", {}).update({"scale": scale, "commit": commit, "wall_seconds": round(seconds, 1),
                                                   "started": started.isoformat(timespec="seconds"), "hardware": hardware()})
    atomic_write_text(path, nbformat.writes(book))


def wall_times(scale: str) -> list[dict[str, Any]]:
    """Each rendered notebook's run stamp at ``scale`` (stage, wall seconds, commit, start), in pipeline order;
    notebooks not rendered, or rendered before run stamps existed, are left out."""
    import nbformat

    rows = []
    for name, section in NOTEBOOKS.items():
        part = results_dir(scale) / f"{name}.part" / "part.json"  # gramlib.parts: some of its rows, trained before it
        if part.exists():
            rec = json.loads(part.read_text())
            rows.append({"stage": f"{section}_part@{scale}", "notebook": f"{name} (part: {rec['part_rows']})",
                         "wall_seconds": rec["wall_seconds"], "commit": rec.get("commit"), "started": rec.get("started")})
        path = results_dir(scale) / "notebooks" / f"{name}.ipynb"
        if not path.exists():
            continue
        stamp = nbformat.read(path, as_version=4).metadata.get("gramlib", {})
        if "wall_seconds" in stamp:
            rows.append({"stage": f"{section}@{scale}", "notebook": name, "wall_seconds": stamp["wall_seconds"],
                         "commit": stamp.get("commit"), "started": stamp.get("started")})
    return rows


def wall_times_markdown(scale: str) -> str:
    """:func:`wall_times` as a Markdown table with the total (what README's timing tables are made of)."""
    rows = wall_times(scale)
    lines = ["| stage | wall time | commit | started |", "|---|---|---|---|"]
    lines += [f"| `{r['stage']}` | {_duration(r['wall_seconds'])} | `{r['commit']}` | {r['started']} |" for r in rows]
    lines.append(f"| **all {len(rows)} stages** | **{_duration(sum(r['wall_seconds'] for r in rows))}** | | |")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gramlib.pipeline", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", nargs="?", choices=sorted(NOTEBOOKS))
    ap.add_argument("--scale", required=True)
    ap.add_argument("--params", help="params file (default: params.yaml at the project root)")
    ap.add_argument("--check", action="store_true",
                    help="check the scale's params.yaml block against every notebook's parameters cell (runs nothing)")
    ap.add_argument("--part", action="store_true",
                    help="train and record only the notebook's rows params.yaml's part_rows names (gramlib.parts)")
    ap.add_argument("--wall-times", action="store_true",
                    help="print the scale's stage wall times from the rendered notebooks' run stamps (runs nothing)")
    args = ap.parse_args(argv)
    if args.check:
        try:
            check_all_params(args.scale, args.params)
        except ParamsError as e:
            print(e, file=sys.stderr)
            return 2
        stripped = stripping_filter(args.scale)
        if stripped:
            print(stripped, file=sys.stderr)
            return 2
        print(f"params.yaml scale {args.scale}: the settings of its {len(notebooks_at(args.scale, args.params))} notebooks "
              "are declared and typed as their defaults")
        return 0
    if args.wall_times:
        print(wall_times_markdown(args.scale))
        return 0
    if not args.notebook:
        ap.error("name a notebook to run, or pass --check or --wall-times")
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill streams the cells' output here
    try:
        if args.part:
            from .parts import run_part

            run_part(args.notebook, args.scale, params_file=args.params)
        else:
            run_notebook(args.notebook, args.scale, params_file=args.params, progress=sys.stderr.isatty())
    except ParamsError as e:  # nothing was written: say what to fix, without a traceback
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
