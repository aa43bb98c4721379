"""The trained rows of Table 1 and Tables 2-3 (gramlib.tables) and their part stages (gramlib.parts)."""

import json
from pathlib import Path

import pytest
import torch

from conftest import trained_metagraph
from gramlib import parts, tables
from gramlib.data import ImageData
from gramlib.pipeline import ParamsError


def fake_fit(calls):
    def fit(name, build, train_data, test_data, recipe, *, key, **kw):
        calls.append((name, recipe.epochs, kw.get("records"), kw.get("record_to")))
        return {"model": name, "top1": 50.0, "mmacs": 1.0, "mparams": 0.1}
    return fit


def tiny(size, n=8):
    return ImageData(torch.zeros(n, 3, size, size, dtype=torch.uint8), torch.zeros(n, dtype=torch.long), list("abcd"), "tiny", "train")


def test_table1_rows_train_only_the_rows_asked_for(paper_space, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(tables, "fit_and_score", fake_fit(calls))
    mg = trained_metagraph(paper_space, 40)
    kw = dict(budgets_mmacs=[3, 5, 12, 36], epochs=[3, 3, 2, 1], recipe="cpu", grid_points=11, seed=0, ckpt_dir=tmp_path)
    rows = tables.table1_rows(mg, tiny(32), tiny(32), **kw, archs_dir=tmp_path / "archs")
    assert [r["model"] for r in rows] == ["SwiftNet-0.65", "SwiftNet-0.5", "SwiftNet-0.4", "SwiftNet-0.3"]
    assert [c[1] for c in calls] == [3, 3, 2, 1]  # epochs per budget
    assert len(list((tmp_path / "archs").glob("*.json"))) == 4
    calls.clear()
    part = tables.table1_rows(mg, tiny(32), tiny(32), **kw, only="SwiftNet-0.3", record_to=tmp_path / "rec")
    assert [r["model"] for r in part] == ["SwiftNet-0.3"] and calls == [("SwiftNet-0.3", 1, [], tmp_path / "rec")]
    with pytest.raises(ValueError, match="3 values for 4 rows"):
        tables.table1_rows(mg, tiny(32), tiny(32), **{**kw, "epochs": [1, 2, 3]})


def test_imagenet_rows_load_data_only_for_sizes_with_rows_asked_for(paper_space, monkeypatch, tmp_path):
    calls, loaded = [], []
    monkeypatch.setattr(tables, "fit_and_score", fake_fit(calls))
    monkeypatch.setattr(tables, "load_train_test", lambda dataset, input_size, **k: loaded.append(input_size) or (tiny(input_size), tiny(input_size)))
    mg = trained_metagraph(paper_space, 40)
    kw = dict(dataset="imagenette", data_dir=None, sizes=[96, 128], levels=[0.5, 0.4], scales=[1.0, 1.5], thin_scales=[0.25],
              at_paper_macs=False, grid_points=6, recipe="cpu", epochs=1, train_limit=None, test_limit=None,
              mobilenet_width=0.35, mobilenet_widths={96: [0.5], 128: []}, latency_runs=1, seed=0, ckpt_dir=tmp_path)
    rows, models = tables.imagenet_rows(mg, **kw)
    names = [r["model"] for r in rows]
    assert names[:5] == ["SwiftNet-96-0.5-1.00", "SwiftNet-96-0.5-1.50", "SwiftNet-96-0.5-0.25", "SwiftNet-96-0.4-1.00",
                         "SwiftNet-96-0.4-1.50"]
    assert names[5:7] == ["MobileNetV2-0.35-96", "MobileNetV2-0.5-96"] and names[-1] == "MobileNetV2-0.35-128"
    assert [r["table3"] for r in rows[:3]] == [True, True, False] and set(models) == set(names)
    assert loaded == [96, 128]
    calls.clear(), loaded.clear()
    rows, _ = tables.imagenet_rows(mg, **kw, only="MobileNetV2-*-96")
    assert [r["model"] for r in rows] == ["MobileNetV2-0.35-96", "MobileNetV2-0.5-96"] and loaded == [96]
    assert models["MobileNetV2-0.5-96"]().classifier[-1].out_features == 4  # builders know the class count


def test_part_stage_records_its_rows_and_refuses_a_glob_that_matches_none(monkeypatch, tmp_path):
    section = {"part_rows": "SwiftNet-0.3"}
    monkeypatch.setattr(parts, "check_params", lambda nb, scale, params_file=None: dict(section))
    monkeypatch.setattr(parts, "results_dir", lambda scale: tmp_path / scale)
    monkeypatch.setattr("gramlib.metagraph.MetaGraph.load", staticmethod(lambda path: "mg"))
    got = []

    def train_rows(sec, scale, mg, only, record_to):
        got.append((only, mg))
        return [{"model": m} for m in ("SwiftNet-0.4", "SwiftNet-0.3") if m == only]

    monkeypatch.setitem(parts.RUNNERS, "04_table1_cifar10", (lambda sec, mg: ["SwiftNet-0.4", "SwiftNet-0.3"], train_rows, True))
    out = parts.run_part("04_table1_cifar10", "cpu")
    assert out == tmp_path / "cpu" / "04_table1_cifar10.part" and got == [("SwiftNet-0.3", "mg")]
    rec = json.loads((out / "part.json").read_text())
    assert rec["rows"] == ["SwiftNet-0.3"] and rec["part_rows"] == "SwiftNet-0.3" and rec["wall_seconds"] >= 0
    assert parts.records_for("cpu", "04_table1_cifar10") == [out]
    assert parts.records_for("quick", "04_table1_cifar10") == []
    section["part_rows"] = None  # nothing to train: an empty record, the runner not called
    parts.run_part("04_table1_cifar10", "quick")
    assert len(got) == 1 and json.loads((tmp_path / "quick" / "04_table1_cifar10.part" / "part.json").read_text())["rows"] == []
    section["part_rows"] = "SwiftNet-9*"  # refused with the rows there are, before anything is written or trained
    with pytest.raises(ParamsError, match=r"matches none of its rows \(SwiftNet-0.4, SwiftNet-0.3\)"):
        parts.run_part("04_table1_cifar10", "smoke")
    assert len(got) == 1 and not (tmp_path / "smoke").exists()
    with pytest.raises(ParamsError, match="has no part stage"):
        parts.run_part("05_table4_transfer", "cpu")


def test_search_part_runs_the_random_twin_the_notebook_then_reads(monkeypatch, tmp_path):
    """search_part@<scale> searches the twin (mode random, the notebook's settings) into its record folder, without
    a meta-graph (it runs before the search); the notebook finds the twin there once part.json lists it."""
    import gramlib.search as search_mod
    from gramlib.pipeline import load_params

    section = load_params("smoke")["search"]
    monkeypatch.setattr(parts, "check_params", lambda nb, scale, params_file=None: dict(section))
    monkeypatch.setattr(parts, "results_dir", lambda scale: tmp_path / scale)
    monkeypatch.setattr("gramlib.metagraph.MetaGraph.load", staticmethod(lambda path: pytest.fail("read a meta-graph")))
    runs = tmp_path / "smoke" / "search_runs"
    assert parts.random_twin_root("smoke", runs) == runs  # no part stage yet: the notebook runs its twin itself
    seen = []

    def fake_search_in(root, space, rule, config):
        seen.append((Path(root), config.mode, config.iterations, config.proxy_train))
        return Path(root) / f"{config.mode}-run", None

    monkeypatch.setattr(search_mod, "search_in", fake_search_in)
    out = parts.run_part("01_search", "smoke")
    _, config = search_mod.search_settings(section["profile"], section["proxy"], iterations=section["iterations"])
    assert seen == [(out, "random", section["iterations"], config.proxy_train)]
    assert json.loads((out / "part.json").read_text())["rows"] == ["random"]
    assert parts.random_twin_root("smoke", runs) == out
    # threads set (cpu: 1, the twin beside the GRAM search): the part's twin is exactly the notebook's, same folder
    from dataclasses import replace

    section["threads"], configs = 1, []
    monkeypatch.setattr(search_mod, "search_in", lambda root, space, rule, config: configs.append((space, rule, config)))
    parts.run_part("01_search", "quick")
    fields = {k: section[k] for k in ("iterations", "seed", "dataset", "fused_bn_elu", "latency_runs", "workers",
                                      "executor", "ray_address", "threads")}  # what the notebook passes
    p, notebook = search_mod.search_settings(section["profile"], section["proxy"], **fields)
    (space, rule, twin), = configs
    assert twin == replace(notebook, mode="random") and twin.threads == 1
    assert search_mod.run_name(space, rule, twin) == search_mod.run_name(p.space, p.rule, replace(notebook, mode="random"))
    # threads null (quick, smoke): the profile's count for the notebook, the part stage and the evidence searches alike
    from gramlib.profiles import get_profile

    assert search_mod.search_settings("cpu", threads=None)[1].threads == get_profile("cpu").search.threads == 2
    section["random_baseline"] = False  # no twin to run: refused by name
    with pytest.raises(ParamsError, match="matches none of its rows"):
        parts.run_part("01_search", "cpu")


def test_part_runners_name_the_rows_their_tables_train(paper_space, monkeypatch, tmp_path):
    """The names a part stage checks its glob against are the names the tables' functions give their rows."""
    calls = []
    monkeypatch.setattr(tables, "fit_and_score", fake_fit(calls))
    monkeypatch.setattr(tables, "load_train_test", lambda dataset, input_size, **k: (tiny(input_size), tiny(input_size)))
    mg = trained_metagraph(paper_space, 40)
    t1 = {"budgets_mmacs": [3, 36, 7], "grid_points": 11}
    names, _, _ = parts.RUNNERS["04_table1_cifar10"]
    rows = tables.table1_rows(mg, tiny(32), tiny(32), **t1, epochs=1, recipe="cpu", seed=0, ckpt_dir=tmp_path)
    assert names(t1, mg) == [r["model"] for r in rows] and names(t1, mg)[:2] == ["SwiftNet-0.65", "SwiftNet-0.3"]
    im = dict(sizes=[96, 128], levels=[0.5], scales=[1.0], thin_scales=[0.5], mobilenet_widths={96: [0.5]}, mobilenet_width=0.35)
    names, _, _ = parts.RUNNERS["06_imagenet_tables2_3"]
    rows, _ = tables.imagenet_rows(mg, **im, dataset="imagenette", data_dir=None, at_paper_macs=False, grid_points=6,
                                   recipe="cpu", epochs=1, train_limit=None, test_limit=None, latency_runs=1, seed=0,
                                   ckpt_dir=tmp_path)
    assert names(im, mg) == [r["model"] for r in rows]
