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

    def dying_save(self, path, extra=None):
        if self.iteration == 4:
            raise KeyboardInterrupt("killed")
        real_save(self, path, extra)

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


def test_a_changed_setting_starts_a_new_folder_and_fewer_iterations_replay(tmp_path, smoke):
    """search_in keys folders by settings: what params.yaml says is what runs, and no folder is rewritten."""
    from gramlib.search import meta_graph_at, publish, run_name, search_in

    proxy = synthetic_proxy()
    folder, mg = search_in(tmp_path, smoke.space, smoke.rule, smoke.search, proxy=proxy, progress=False)
    assert folder.name == run_name(smoke.space, smoke.rule, smoke.search) and folder.name.startswith("gram-cifar10-seed0-")
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    # another seed (or rule, or proxy): a new folder beside the first, which stays as it was
    other = replace(smoke.search, seed=1)
    folder1, _ = search_in(tmp_path, smoke.space, smoke.rule, other, proxy=proxy, progress=False)
    assert folder1 != folder and folder1.name.startswith("gram-cifar10-seed1-")
    assert run_name(smoke.space, replace(smoke.rule, alpha=0.3), smoke.search) not in (folder.name, folder1.name)
    # the iteration budget and where candidates run are not part of the name: a longer run resumes
    assert run_name(smoke.space, smoke.rule, replace(smoke.search, iterations=9, max_retries=0)) == folder.name
    # fewer iterations: the meta-graph of a 3-iteration run, replayed from the 5-iteration folder, untouched
    _, mg3 = search_in(tmp_path, smoke.space, smoke.rule, replace(smoke.search, iterations=3), proxy=proxy,
                       progress=False)
    short = run(replace(smoke, search=replace(smoke.search, iterations=3)), tmp_path / "short")
    assert mg3.iteration == 3 and np.array_equal(mg3.weights, short.weights) and mg3.beta == short.beta
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    with pytest.raises(SearchError, match="fewer than 6"):
        meta_graph_at(folder, 6)
    # what later stages read: the meta-graph with its settings and origin
    dest = publish(folder, mg3, tmp_path / "published")
    assert MetaGraph.load(dest / "metagraph.json") == mg3
    assert json.loads((dest / "config.json").read_text())["search"]["iterations"] == 3
    assert json.loads((dest / "source.json").read_text())["run"] == folder.name


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
    assert cli.main(["search", "--profile", "smoke", "--out", str(tmp_path / "w"), "--iterations", "3", "--quiet",
                     "--workers", "2", "--unordered"]) == 0
    cfg = json.loads((tmp_path / "w" / "config.json").read_text())["search"]
    assert cfg["workers"] == 2 and cfg["ordered"] is False and cfg["executor"] == "local"


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
    for k in ("nesterov", "warmup", "crop_pad"):  # the proxy recipe as gramlib wrote it before these fields existed
        cfg["search"]["proxy_recipe"].pop(k)
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    mg = run(smoke, tmp_path / "a")  # resumes: defaults fill the missing fields
    assert mg.iteration == smoke.search.iterations


# -- candidates in flight (issue #11): workers, executors, resumption, failures -------------------------------------

def with_search(profile, **kw):
    return replace(profile, search=replace(profile.search, **kw))


def test_one_worker_is_the_sequential_algorithm_bit_for_bit(tmp_path, smoke):
    """workers = 1 through the executor loop gives exactly sample → score → update, in that order."""
    prof = with_search(smoke, workers=1)
    mg = run(prof, tmp_path / "w1")
    ref = MetaGraph(prof.space, prof.rule, seed=prof.search.seed)
    proxy = synthetic_proxy()
    for i in range(prof.search.iterations):
        arch = ref.sample()
        res = search_mod.score_candidate(arch, proxy, prof.search, search_mod.candidate_seed(prof.search.seed, i))
        ref.update(arch, res["accuracy"], latency_ms=res["latency_ms"], macs=res["macs"])
    assert np.array_equal(mg.weights, ref.weights) and mg.beta == ref.beta and mg.iteration == ref.iteration
    rows = load_history(tmp_path / "w1")
    assert [r["staleness"] for r in rows] == [0] * 5 and [r["candidate"] for r in rows] == list(range(5))


def test_k_workers_sample_from_older_metagraphs_and_resume_without_loss(tmp_path, smoke, monkeypatch):
    prof = with_search(smoke, workers=3, iterations=6)
    full = run(prof, tmp_path / "full")
    rows = load_history(tmp_path / "full")
    assert [r["candidate"] for r in rows] == list(range(6))  # ordered: updates in submission order
    assert [r["sampled_at"] for r in rows] == [0, 0, 0, 1, 2, 3]
    assert [r["staleness"] for r in rows] == [0, 1, 2, 2, 2, 2]
    assert full != run(with_search(smoke, workers=1, iterations=6), tmp_path / "seq")  # staleness changes the path

    # killed with three candidates in flight: after the checkpoint of iteration 2, during candidate 4's training
    real = search_mod.score_candidate
    calls = {"n": 0}

    def dying(arch, proxy, config, seed):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real(arch, proxy, config, seed)

    monkeypatch.setattr(search_mod, "score_candidate", dying)
    with pytest.raises(KeyboardInterrupt):
        run(prof, tmp_path / "cut")
    monkeypatch.setattr(search_mod, "score_candidate", real)
    saved = json.loads((tmp_path / "cut" / "metagraph.json").read_text())
    assert saved["iteration"] == 3 and [c["index"] for c in saved["inflight"]] == [3, 4, 5]
    resumed = run(prof, tmp_path / "cut")
    assert resumed == full
    cut_rows = load_history(tmp_path / "cut")
    assert [r["candidate"] for r in cut_rows] == list(range(6))  # each iteration exactly once
    assert strip(cut_rows) == strip(rows)
    assert "inflight" not in json.loads((tmp_path / "cut" / "metagraph.json").read_text())


def test_a_failing_candidate_is_retried_then_recorded_and_the_search_goes_on(tmp_path, smoke, monkeypatch, caplog):
    real = search_mod.score_candidate
    tries = {}

    def flaky(arch, proxy, config, seed):
        tries[seed] = tries.get(seed, 0) + 1
        if seed == search_mod.candidate_seed(config.seed, 1):  # candidate 1 always fails
            raise RuntimeError("worker lost")
        if seed == search_mod.candidate_seed(config.seed, 2) and tries[seed] == 1:  # candidate 2 once
            raise RuntimeError("transient")
        return real(arch, proxy, config, seed)

    monkeypatch.setattr(search_mod, "score_candidate", flaky)
    prof = with_search(smoke, workers=2, iterations=4, max_retries=2)
    mg = run(prof, tmp_path / "f")
    rows = load_history(tmp_path / "f")
    assert mg.iteration == 4 and [r["candidate"] for r in rows] == [0, 1, 2, 3]
    assert [r["failed"] for r in rows] == [False, True, False, False]
    assert rows[1]["attempts"] == 3 and "worker lost" in rows[1]["error"] and rows[1]["reward"] is None
    assert rows[2]["attempts"] == 2 and rows[2]["accuracy"] is not None
    assert "recorded as failed" in caplog.text


def test_executor_settings_are_checked_and_may_change_on_resume(tmp_path, smoke):
    with pytest.raises(ValueError, match="executor"):
        replace(smoke.search, executor="slurm")
    with pytest.raises(ValueError, match="workers"):
        replace(smoke.search, workers=0)
    run(with_search(smoke, workers=2), tmp_path / "e", stop_after=2)
    run(with_search(smoke, workers=2, max_retries=5), tmp_path / "e")  # where it runs is not what it computes
    with pytest.raises(SearchError, match="other settings"):
        run(with_search(smoke, workers=3), tmp_path / "e")


def test_ray_executor_without_ray_names_the_extra(monkeypatch):
    import builtins

    from gramlib.executors import ExecutorError, make_executor

    real_import = builtins.__import__

    def no_ray(name, *a, **kw):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"\[distributed\]"):
        make_executor("ray")


RUNNER = """
import sys
from dataclasses import replace
sys.path.insert(0, {tests!r})
from conftest import synthetic_proxy
from gramlib.profiles import get_profile
from gramlib.search import search
p = get_profile("smoke", search={{"iterations": 6}})
# smoke candidates train in ~0.1 s: 400 images x 40 epochs (~1.5 s) make each take long enough to kill the run with candidates in flight
cfg = replace(p.search, workers=2, executor=sys.argv[2], ray_num_cpus=2, cpus_per_candidate=1, threads=1,
              proxy_recipe=replace(p.search.proxy_recipe, epochs=40))
search(p.space, p.rule, cfg, sys.argv[1], proxy=synthetic_proxy(400), progress=False)
"""


@pytest.mark.skipif(__import__("importlib").util.find_spec("ray") is None,
                    reason="Ray not installed (pip install -e '.[distributed]')")
def test_ray_search_with_two_workers_killed_and_resumed(tmp_path):
    """Issue #11: a local Ray with 2 CPUs, 2 candidates in flight; the driver is killed (SIGKILL) with candidates
    in flight and resumed; the history holds each iteration once and, results being applied in order, the
    meta-graph equals the in-process executor's."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "run.py"
    script.write_text(RUNNER.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "RAY_ADDRESS": ""}  # never join a cluster the machine happens to run
    env.pop("RAY_ADDRESS")
    subprocess.run([sys.executable, str(script), str(tmp_path / "local"), "local"], check=True, env=env, timeout=600)

    out = tmp_path / "ray"
    proc = subprocess.Popen([sys.executable, str(script), str(out), "ray"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hist = out / "history.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if hist.exists() and len(hist.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    killed = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and whatever it started in its session
    except ProcessLookupError:
        pass  # it had ended: reported below
    proc.wait()
    assert killed, "the Ray search ended before it could be killed"
    saved = json.loads((out / "metagraph.json").read_text())
    assert saved["iteration"] < 6
    subprocess.run([sys.executable, str(script), str(out), "ray"], check=True, env=env, timeout=600,
                   start_new_session=True)
    rows = load_history(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["candidate"] for r in rows] == list(range(6))  # each candidate applied exactly once
    assert MetaGraph.load(out / "metagraph.json") == MetaGraph.load(tmp_path / "local" / "metagraph.json")
    assert strip(rows) == strip(load_history(tmp_path / "local"))


def test_searches_side_by_side_compute_what_each_computes_alone(tmp_path, smoke):
    """run_side_by_side: two searches (GRAM and its random twin, one thread each) in two spawned processes give the
    meta-graphs and histories of the same searches run here one after the other; results come back in call order."""
    from functools import partial

    from gramlib.executors import run_side_by_side

    prof = with_search(smoke, threads=1)
    configs = [prof.search, replace(prof.search, mode="random")]
    proxy = synthetic_proxy()
    calls = [partial(search, prof.space, prof.rule, c, tmp_path / f"side-{c.mode}", proxy=proxy, progress=False)
             for c in configs]
    side = run_side_by_side(calls, processes=2)
    alone = [search(prof.space, prof.rule, c, tmp_path / f"alone-{c.mode}", proxy=proxy, progress=False) for c in configs]
    assert side == alone and side[0] != side[1]  # the random twin never updates its weights
    for c in configs:
        assert strip(load_history(tmp_path / f"side-{c.mode}")) == strip(load_history(tmp_path / f"alone-{c.mode}"))


def test_run_side_by_side_keeps_order_runs_elsewhere_and_raises_what_a_call_raised():
    import os
    from functools import partial

    from gramlib.executors import run_side_by_side

    assert run_side_by_side([partial(pow, 2, k) for k in range(5)], processes=2) == [1, 2, 4, 8, 16]
    assert run_side_by_side([os.getpid], processes=2) == [os.getpid()]  # one call: here, no process to start
    pids = run_side_by_side([os.getpid, os.getpid], processes=2)
    assert os.getpid() not in pids
    assert run_side_by_side([os.getpid], processes=1) == [os.getpid()]
    with pytest.raises(ValueError, match="invalid literal"):
        run_side_by_side([partial(int, "7"), partial(int, "x")], processes=2)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="processes must be an integer"):
            run_side_by_side([os.getpid], processes=bad)


def test_a_failing_call_cancels_the_calls_still_waiting(tmp_path):
    """When one call raises, the calls not yet started are dropped (a search that fails, or an interrupt, must not
    leave the rest of a long queue running); the error is raised here."""
    import subprocess
    from functools import partial

    from gramlib.executors import run_side_by_side

    def touch_later(i):  # a picklable call (stdlib) that takes a second, then leaves a mark
        return partial(subprocess.run, ["sh", "-c", f"sleep 1; touch {tmp_path / str(i)}"], check=True)

    calls = [partial(int, "x"), partial(subprocess.run, ["sleep", "2"])] + [touch_later(i) for i in range(2, 12)]
    with pytest.raises(ValueError, match="invalid literal"):
        run_side_by_side(calls, processes=2)
    ran = sorted(int(f.name) for f in tmp_path.iterdir())
    assert 11 not in ran and len(ran) < 10, ran  # at most the few already handed to a worker ran
