import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import gramlib.search as search_mod
from conftest import synthetic_proxy
from gramlib.metagraph import MetaGraph, MetaGraphError
from gramlib.profiles import get_profile
from gramlib.search import SearchError, load_history, search
from gramlib.train import DivergedError

DETERMINISTIC = ("iteration", "accuracy", "diverged", "macs", "params", "reward", "beta", "edges", "arch")


@pytest.fixture
def smoke():
    return get_profile("smoke", search={"iterations": 5})


def run(profile, out, **kw):
    return search(profile.space, profile.rule, profile.search, out, proxy=synthetic_proxy(), progress=False, **kw)


def strip(rows):
    return [{k: r[k] for k in DETERMINISTIC} for r in rows]


def test_same_seed_same_metagraph(tmp_path, smoke):
    a = run(smoke, tmp_path / "a")
    b = run(smoke, tmp_path / "b")
    assert a == b and a.iteration == 5
    assert strip(load_history(tmp_path / "a")) == strip(load_history(tmp_path / "b"))
    other = replace(smoke, search=replace(smoke.search, seed=1))
    c = run(other, tmp_path / "c")
    assert not np.array_equal(a.weights, c.weights) or a.ops != c.ops
    rows = load_history(tmp_path / "a")
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(0 <= r["accuracy"] <= 1 and r["macs"] > 0 and set(r["times"]) >= {"sample", "build", "train", "eval",
                                                                                    "update"} for r in rows)


def test_killed_and_resumed_equals_uninterrupted(tmp_path, smoke, monkeypatch):
    full = run(smoke, tmp_path / "full")

    # kill 1: between iterations (stop_after), kill 2: after the history row of iteration 4, before its checkpoint
    run(smoke, tmp_path / "cut", stop_after=2)
    real_save = MetaGraph.save

    def dying_save(self, path):
        if self.iteration == 4:
            raise KeyboardInterrupt("killed")
        real_save(self, path)

    monkeypatch.setattr(MetaGraph, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run(smoke, tmp_path / "cut")
    monkeypatch.setattr(MetaGraph, "save", real_save)
    lines = (tmp_path / "cut" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 4  # the row of iteration 4 was written, its checkpoint was not
    with open(tmp_path / "cut" / "history.jsonl", "a") as f:
        f.write('{"iteration": 5, "acc')  # and a torn line, as a kill mid-write leaves
    resumed = run(smoke, tmp_path / "cut")
    assert resumed == full
    assert strip(load_history(tmp_path / "cut")) == strip(load_history(tmp_path / "full"))
    assert len((tmp_path / "cut" / "history.jsonl").read_text().splitlines()) == 5


def test_resume_refuses_other_settings(tmp_path, smoke):
    run(smoke, tmp_path / "r", stop_after=1)
    other = replace(smoke, space=replace(smoke.space, nodes=6))
    with pytest.raises(SearchError, match="other settings"):
        run(other, tmp_path / "r")
    # a meta-graph from another space dropped into a folder is refused by name
    (tmp_path / "r" / "config.json").unlink()
    with pytest.raises(MetaGraphError, match="another search space"):
        run(other, tmp_path / "r")


def test_budget_can_grow_on_resume(tmp_path, smoke):
    run(smoke, tmp_path / "g")
    more = replace(smoke, search=replace(smoke.search, iterations=7))
    assert run(more, tmp_path / "g").iteration == 7


def test_a_folder_is_never_silently_rewritten_or_overstated(tmp_path, smoke):
    run(smoke, tmp_path / "f")
    fewer = replace(smoke, search=replace(smoke.search, iterations=3))
    with pytest.raises(SearchError, match="holds 5 iterations, more than the 3"):
        run(fewer, tmp_path / "f")  # would report 5 iterations where params say 3
    (tmp_path / "f" / "metagraph.json").unlink()
    with pytest.raises(SearchError, match="holds 5 iterations but metagraph.json is missing"):
        run(smoke, tmp_path / "f")
    assert len((tmp_path / "f" / "history.jsonl").read_text().splitlines()) == 5  # untouched


def test_zero_iterations_and_bad_settings(tmp_path, smoke):
    none = replace(smoke, search=replace(smoke.search, iterations=0))
    mg = run(none, tmp_path / "z")
    assert mg.iteration == 0 and load_history(tmp_path / "z") == []
    for field, value in [("iterations", "four"), ("seed", 1.7), ("iterations", True)]:
        with pytest.raises(TypeError, match=field):
            replace(smoke.search, **{field: value})
    typo = replace(smoke.search, dataset="cifar-1O")
    with pytest.raises(Exception, match="cifar-1O"):
        search(smoke.space, smoke.rule, typo, tmp_path / "t", progress=False)
    assert not (tmp_path / "t" / "config.json").exists()  # the corrected name can still use the folder


def test_diverged_candidate_is_logged_and_skipped(tmp_path, smoke, monkeypatch, caplog):
    real_train = search_mod.train
    calls = {"n": 0}

    def flaky_train(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise DivergedError("loss became nan")
        return real_train(*a, **kw)

    monkeypatch.setattr(search_mod, "train", flaky_train)
    mg = run(smoke, tmp_path / "d", stop_after=3)
    rows = load_history(tmp_path / "d")
    assert [r["diverged"] for r in rows] == [False, True, False]
    assert rows[1]["accuracy"] is None and rows[1]["reward"] is None
    assert rows[1]["beta"] == rows[0]["beta"]  # β untouched by the skipped candidate
    assert mg.iteration == 3
    assert "diverged" in caplog.text


def test_random_mode_never_updates(tmp_path, smoke):
    prof = replace(smoke, search=replace(smoke.search, mode="random", iterations=3))
    mg = run(prof, tmp_path / "rand")
    fresh = MetaGraph(prof.space, prof.rule, seed=prof.search.seed)
    np.testing.assert_array_equal(mg.weights, fresh.weights)
    assert mg.iteration == 3 and len(load_history(tmp_path / "rand")) == 3


def test_real_nan_loss_is_caught():
    from gramlib.model import build_model
    from gramlib.train import Recipe, train

    proxy = synthetic_proxy()
    mg = MetaGraph(get_profile("smoke").space, seed=0)
    model = build_model(mg.prune(0.0), num_classes=4)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(DivergedError, match="loss became nan"):
        train(model, proxy.train.x, proxy.train.y, Recipe(epochs=1), mean=(0.5,) * 3, std=(0.25,) * 3,
              progress=False)


def test_cli_search_and_prune(tmp_path, monkeypatch, capsys):
    from gramlib import cli

    monkeypatch.setattr(search_mod, "load_split", lambda *a, **k: synthetic_proxy(200, 10).train)
    assert cli.main(["search", "--profile", "smoke", "--out", str(tmp_path / "s"), "--iterations", "2", "--quiet"]) == 0
    assert json.loads((tmp_path / "s" / "run.json").read_text())["iteration"] == 2
    assert cli.main(["prune", "--metagraph", str(tmp_path / "s" / "metagraph.json"), "--level", "0.5",
                     "--out", str(tmp_path / "a.json")]) == 0
    assert "mmacs" in capsys.readouterr().out
    assert cli.main(["prune", "--metagraph", str(tmp_path / "s" / "metagraph.json"), "--level", "1.5",
                     "--out", str(tmp_path / "b.json")]) == 2
    assert "pruning level" in capsys.readouterr().err


def test_profiles_and_bad_overrides():
    from gramlib.space import SpaceError

    assert get_profile("paper").space.nodes == 30 and get_profile("paper").search.iterations == 1000
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("gpu")
    with pytest.raises(ValueError, match="bad override"):
        get_profile("cpu", search={"iterationz": 3})
    with pytest.raises(SpaceError, match="nodes must be >= 2"):
        get_profile("cpu", space={"nodes": 1})
    with pytest.raises(ValueError, match="mode"):
        get_profile("cpu", search={"mode": "evolution"})


def test_replay_rebuilds_the_weights_from_the_history(tmp_path, smoke):
    mg = run(smoke, tmp_path / "a")
    steps = list(search_mod.replay(tmp_path / "a", every=1))
    assert [it for it, _ in steps] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(steps[-1][1].weights, mg.weights)
    assert steps[-1][1].beta == mg.beta


def test_resume_reads_a_config_written_before_skeletons(tmp_path, smoke):
    run(smoke, tmp_path / "a", stop_after=2)
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    sk = cfg["space"].pop("skeleton")  # the flat form older gramlib wrote, without the new rule fields
    assert sk["stem_stride"] == 2
    cfg["rule"] = {k: v for k, v in cfg["rule"].items() if k not in ("advantage", "advantage_momentum", "explore")}
    cfg["space"].update(stem_channels=sk["stem_channels"], pool="max", combine="concat", dag_output="leaves")
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(SearchError, match="other settings"):  # old flat form means the pool-between layout
        run(smoke, tmp_path / "a")


def test_resume_reads_a_config_written_before_new_recipe_fields(tmp_path, smoke):
    run(smoke, tmp_path / "a", stop_after=2)
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    for k in ("nesterov", "warmup"):  # the proxy recipe as gramlib wrote it before these fields existed
        cfg["search"]["proxy_recipe"].pop(k)
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    mg = run(smoke, tmp_path / "a")  # resumes: defaults fill the missing fields
    assert mg.iteration == smoke.search.iterations
