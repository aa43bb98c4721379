"""Bad input, tried systematically: every stage's parameters and each public entry point (the pipeline and search
CLIs, MetaGraph.load, Architecture.from_json, build_model, load_split, a search folder) get wrong types,
out-of-range values, empty and truncated files and missing data. Each must fail with an error that names the
input, and leave every existing result and checkpoint as it was."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import synthetic_proxy
from gramlib.pipeline import NOTEBOOKS, ROOT, ParamsError, check_all_params, notebooks_at

SMOKE = yaml.safe_load((ROOT / "params.yaml").read_text())


def params_file(tmp_path: Path, section: str, key: str, value, scale: str = "smoke") -> Path:
    p = json.loads(json.dumps(SMOKE))  # a deep copy
    p["scales"] = {scale: p["scales"]["smoke"]}
    if key is None:
        p["scales"][scale][section] = value
    else:
        p["scales"][scale][section][key] = value
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    return f


# (section, key, bad value, what the error must say)
BAD_PARAMS = [
    ("search", "iterations", "four", "scales.smoke.search.iterations = 'four'"),
    ("search", "iterations", 0, "0 is not allowed (expected an integer >= 1)"),
    ("search", "seed", 1.7, "scales.smoke.search.seed = 1.7"),  # would be stored as 1.7 and used as 1
    ("search", "profile", "gpu", "'gpu' is not allowed (expected one of paper, cpu, smoke)"),
    ("search", "dataset", "cifar100", "'cifar100' is not allowed (expected one of cifar10, mnist"),
    ("search", "workers", 0, "scales.smoke.search.workers = 0"),
    ("search", "executor", "slurm", "expected one of local, ray"),
    ("search", "threads", 0, "0 is not allowed (expected null (the profile's) or an integer >= 1)"),
    ("search", "parallel_searches", 0, "0 is not allowed (expected an integer >= 1)"),
    ("evidence", "search_threads", 0, "0 is not allowed (expected null (the profile's) or an integer >= 1)"),
    ("evidence", "search_threads", 2.5, "scales.smoke.evidence.search_threads = 2.5: expected a value like the notebook default 1"),
    ("search", "proxy", {"proxy_trian": 750}, "unknown proxy setting(s) ['proxy_trian']"),
    ("figure3", "level", 1.5, "1.5 is not allowed (expected a pruning level in [0, 1])"),
    ("figure3", "levl", 0.9, "unknown key scales.smoke.figure3.levl"),
    ("figure3", None, {}, "missing key scales.smoke.figure3.level"),
    ("figure3", None, [0.5], "scales.smoke.figure3 in params.yaml must be a mapping"),
    ("table1", "epochs", None, "scales.smoke.table1.epochs = None"),
    ("table1", "epochs", [1, 0, 1, 1], "0 is not allowed (expected an integer >= 1)"),
    ("table1", "recipe", "fast", "'fast' is not allowed (expected one of"),
    ("table1", "budgets_mmacs", [3, -5], "-5 is not allowed (expected a number > 0)"),
    ("table1", "train_limit", 0, "0 is not allowed (expected null (all) or an integer >= 1)"),
    ("table4", "datasets", ["mnist", "imagenet"], "'imagenet' is not allowed"),
    ("table4", "width", {"mnist": 0}, "0 is not allowed (expected a number > 0 or \"auto\""),
    ("table4", "width", "wide", "scales.smoke.table4.width = 'wide'"),
    ("imagenet", "sizes", [96, 8], "8 is not allowed (expected an integer >= 16)"),
    ("imagenet", "thin_scales", [0.25, 1.0], "1.0 is not allowed (expected a channel scale in (0, 1)"),
    ("shape", "layouts", ["pool-sideways"], "'pool-sideways' is not allowed"),
    ("proxy", "select_by", "loss", "expected one of icc, tau"),
]


@pytest.mark.parametrize("section, key, value, message", BAD_PARAMS,
                         ids=[f"{s}.{k}={v!r}" for s, k, v, _ in BAD_PARAMS])
def test_bad_params_are_refused_by_name(tmp_path, section, key, value, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        check_all_params("smoke", params_file(tmp_path, section, key, value))


@pytest.mark.parametrize("width", ["auto", {"mnist": "auto", "fashion-mnist": 0.5, "svhn": "auto"}])
def test_table4_width_may_be_auto(tmp_path, width):
    """Table 4's width, derived from the meta-graph (gramlib.shape.auto_width), whole or per task."""
    check_all_params("smoke", params_file(tmp_path, "table4", "width", width))


def test_a_refused_stage_writes_nothing(tmp_path):
    """`bin/stage` (what dvc runs) exits 2 with the message, before any output folder exists."""
    f = params_file(tmp_path, "figure3", "level", 1.5, scale="refused")
    out = subprocess.run([sys.executable, "-m", "gramlib.pipeline", "02_figure3_architecture", "--scale", "refused",
                          "--params", str(f)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "scales.refused.figure3.level = 1.5" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (ROOT / "results" / "refused").exists()
    check = subprocess.run([sys.executable, "-m", "gramlib.pipeline", "--check", "--scale", "refused",
                            "--params", str(f)], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 2 and "level" in check.stderr


def test_every_pipeline_notebook_is_a_dvc_stage_with_params_at_every_scale_it_runs_at():
    """NOTEBOOKS comes from dvc.yaml; each has a notebook file and a section at every scale it runs at."""
    assert len(NOTEBOOKS) == 11
    for name, section in NOTEBOOKS.items():
        assert (ROOT / "notebooks" / f"{name}.ipynb").exists()
        for scale, block in SMOKE["scales"].items():
            assert (section in block) == (name in notebooks_at(scale)), (scale, section)


def test_the_studies_run_at_cpu_and_smoke_not_quick(tmp_path):
    """params.yaml `studies` (dvc.yaml's foreach of 09-11) decides; a stage outside it is refused with the way in."""
    studies = {"09_evidence", "10_proxy", "11_shape"}
    assert set(notebooks_at("cpu")) == set(notebooks_at("smoke")) == set(NOTEBOOKS)
    assert set(notebooks_at("quick")) == set(NOTEBOOKS) - studies
    before = unchanged(ROOT / "results" / "quick")
    out = subprocess.run([sys.executable, "-m", "gramlib.pipeline", "10_proxy", "--scale", "quick"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "`studies` (cpu, smoke)" in out.stderr
    assert unchanged(ROOT / "results" / "quick") == before
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    doc["studies"]["quick"] = doc["scales"]["quick"]  # listed, but without the sections: named as missing
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(doc))
    with pytest.raises(ParamsError, match="missing key scales.quick.evidence.seeds"):
        check_all_params("quick", f)


# --------------------------------------------------------------------------- files and entry points


def unchanged(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.fixture
def search_folder(tmp_path):
    from gramlib.profiles import get_profile
    from gramlib.search import search

    p = get_profile("smoke", search={"iterations": 3})
    search(p.space, p.rule, p.search, tmp_path / "run", proxy=synthetic_proxy(), progress=False)
    return p, tmp_path / "run"


@pytest.mark.parametrize("damage", ["empty", "truncated", "not json", "missing"])
def test_a_damaged_metagraph_file_is_named_and_nothing_is_rewritten(search_folder, damage):
    from gramlib.metagraph import MetaGraph, MetaGraphError
    from gramlib.search import SearchError, search

    p, run = search_folder
    f = run / "metagraph.json"
    text = f.read_text()
    if damage == "missing":
        f.unlink()
    else:
        f.write_text({"empty": "", "truncated": text[: len(text) // 2], "not json": "weights: [1, 2]"}[damage])
    before = unchanged(run)
    with pytest.raises(MetaGraphError, match=re.escape(str(f))):
        MetaGraph.load(f)
    # resuming: the damaged checkpoint is refused by name (missing: the history of 3 iterations is not restarted)
    with pytest.raises((MetaGraphError, SearchError), match=re.escape(f.name)):
        search(p.space, p.rule, p.search, run, proxy=synthetic_proxy(), progress=False)
    assert unchanged(run) == before


@pytest.mark.parametrize("damage", ["empty", "truncated", "wrong types"])
def test_a_damaged_search_config_is_named_and_nothing_is_rewritten(search_folder, damage):
    from gramlib.search import SearchError, search

    p, run = search_folder
    f = run / "config.json"
    text = f.read_text()
    bad = {"empty": "", "truncated": text[: len(text) // 3],
           "wrong types": text.replace('"iterations": 3', '"iterations": "three"')}[damage]
    assert bad != text
    f.write_text(bad)
    before = unchanged(run)
    with pytest.raises(SearchError, match=re.escape(str(f))):
        search(p.space, p.rule, p.search, run, proxy=synthetic_proxy(), progress=False)
    assert unchanged(run) == before


def test_bad_search_settings_are_refused_before_anything_is_written(tmp_path):
    from gramlib.profiles import get_profile
    from gramlib.search import search

    with pytest.raises(ValueError, match="hierarchies"):
        get_profile("smoke", space={"hierarchies": 0})
    with pytest.raises(ValueError, match="SearchConfig.seed must be an int, got 1.7"):
        get_profile("smoke", search={"seed": 1.7})
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'"):
        p = get_profile("smoke", search={"dataset": "cifar100", "iterations": 1})
        search(p.space, p.rule, p.search, tmp_path / "typo", progress=False)
    assert not (tmp_path / "typo" / "config.json").exists()  # a typo does not poison the folder


@pytest.mark.parametrize("text, message", [
    ("", "architecture"),
    ('{"hierarchies": [', "architecture"),
    ('{"hierarchies": 3}', "architecture"),
    ("[1, 2, 3]", "architecture"),
])
def test_architecture_from_bad_json(text, message):
    from gramlib.architecture import Architecture

    with pytest.raises(ValueError, match=message):
        Architecture.from_json(text)


def test_architecture_load_names_the_file(tmp_path):
    from gramlib.architecture import Architecture

    f = tmp_path / "swiftnet.json"
    f.write_text('{"hierarchies": [')
    with pytest.raises(ValueError, match=re.escape(str(f))):
        Architecture.load(f)
    with pytest.raises((ValueError, OSError), match=re.escape(str(tmp_path / "absent.json"))):
        Architecture.load(tmp_path / "absent.json")


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 0}, "num_classes=0"), ({"in_channels": 0}, "in_channels=0"),
    ({"num_classes": 2.5}, "num_classes"), ({"adapter_layers": -1}, "adapter_layers=-1"),
])
def test_build_model_bad_arguments(kwargs, message):
    from gramlib.metagraph import MetaGraph
    from gramlib.model import build_model
    from gramlib.profiles import get_profile

    arch = MetaGraph(get_profile("smoke").space, get_profile("smoke").rule, seed=0).prune(0.5)
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        build_model(arch, **kwargs)


def test_load_split_bad_and_missing_data(tmp_path):
    from gramlib.data import DatasetError, load_split

    with pytest.raises(ValueError, match="unknown dataset 'cifar-11'"):
        load_split("cifar-11")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_split("mnist", "dev")
    with pytest.raises(ValueError, match="image_size must be positive"):
        load_split("mnist", image_size=0)
    with pytest.raises(DatasetError, match="mnist/test: not in .*download is off"):
        load_split("mnist", "test", root=tmp_path, mirror=None, download=False)
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    (mirror / "test.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match=re.escape(str(mirror / "test.npz"))):
        load_split("mnist", "test", root=tmp_path, mirror=tmp_path / "mirror", download=False)
    np.savez(mirror / "test.npz", x=np.zeros((4, 28, 28), np.uint8), y=np.array([0, 1, 2, 11]),
             classes=np.array(list("0123456789")))
    with pytest.raises(DatasetError, match="labels span"):
        load_split("mnist", "test", root=tmp_path, mirror=tmp_path / "mirror", download=False)
    assert not (tmp_path / "cache").exists()  # nothing half-decoded was cached


@pytest.mark.parametrize("args, message", [
    (["search", "--profile", "gpu", "--out", "OUT"], "unknown profile 'gpu'"),
    (["search", "--profile", "smoke", "--out", "OUT", "--iterations", "four"], "invalid int value: 'four'"),
    (["search", "--profile", "smoke", "--out", "OUT", "--workers", "0"], "workers"),
    (["prune", "--metagraph", "MISSING", "--level", "0.5", "--out", "X.json"], "MISSING"),
])
def test_cli_bad_arguments_name_the_input(tmp_path, args, message):
    args = [a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "absent.json")) for a in args]
    out = subprocess.run([sys.executable, "-m", "gramlib.cli", *args], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0
    assert message.replace("MISSING", str(tmp_path / "absent.json")) in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "out" / "config.json").exists()


def test_notebook_defaults_are_the_smoke_scale():
    """A notebook run by hand (no papermill parameters) runs exactly params.yaml's smoke block: the defaults in
    its parameters cell are that block, so no setting has two disagreeing homes."""
    import ast

    import papermill as pm

    for name, section in NOTEBOOKS.items():
        declared = pm.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
        defaults = {k: ast.literal_eval(v["default"]) for k, v in declared.items() if k != "scale"}
        assert defaults == SMOKE["scales"]["smoke"][section], name


def test_notebooks_route_progress_bars_through_gramlib():
    """tqdm.auto in a notebook puts bars (and a TqdmWarning without ipywidgets) into the rendered copy."""
    for f in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert "from tqdm" not in f.read_text(), f.name
