import math

import numpy as np
import pytest

from conftest import synthetic_proxy, trained_metagraph
from gramlib.evidence import (MatchError, best_found, kendall_tau, match_macs, mean_sd, proxy_signal, proxy_variant,
                              sample_distinct)
from gramlib.experiments import mobilenet_v2
from gramlib.model import build_model
from gramlib.profiles import get_profile
from gramlib.profiling import count_cost


def test_match_macs_width_thinned_swiftnet_within_10_percent(paper_space):
    mg = trained_metagraph(paper_space, 40)
    pruned, light = mg.prune(0.9), mg.prune(0.2)
    target = count_cost(build_model(pruned), (3, 32, 32)).macs
    f, macs = match_macs(lambda f: build_model(light.scale_channels(f, 1)), target, (3, 32, 32))
    assert f < 1 and abs(macs - target) / target <= 0.10
    assert count_cost(build_model(light.scale_channels(f, 1)), (3, 32, 32)).macs == macs


def test_match_macs_mobilenet_and_failure():
    target = 12e6
    f, macs = match_macs(lambda f: mobilenet_v2(f, 10, small_input=True, round_nearest=2), target, (3, 32, 32), lo=0.02, hi=1.5)
    assert abs(macs - target) / target <= 0.10
    with pytest.raises(MatchError, match="from the target"):
        match_macs(lambda f: mobilenet_v2(f, 10, small_input=True), 1e3, (3, 32, 32), lo=0.5, hi=1.0)


def test_small_helpers():
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert best_found([{"accuracy": 0.2}, {"accuracy": None}, {"accuracy": 0.5, "i": 1}])["i"] == 1
    tau, _ = kendall_tau([1, 2, 3, 4], [10, 20, 30, 40])
    assert tau == pytest.approx(1.0)


def test_proxy_signal_separates_architecture_from_seed():
    prof = get_profile("smoke")
    archs = sample_distinct(__import__("gramlib").MetaGraph(prof.space, prof.rule, seed=0), 3)
    assert len(set(archs)) == 3
    sg = proxy_signal(archs, synthetic_proxy(48, 24), prof.search, seeds=[0, 1])
    assert sg["accuracy"].shape == (3, 2) and np.isfinite(sg["accuracy"]).all()
    assert sg["within_sd"] >= 0 and sg["between_sd"] >= 0 and sg["seconds_per_candidate"] > 0


def test_proxy_signal_cache_resumes_without_retraining(tmp_path, monkeypatch):
    import gramlib.evidence as ev
    prof = get_profile("smoke")
    archs = sample_distinct(__import__("gramlib").MetaGraph(prof.space, prof.rule, seed=0), 2)
    proxy = synthetic_proxy(48, 24)
    cache = tmp_path / "runs.jsonl"
    first = proxy_signal(archs[:1], proxy, prof.search, seeds=[0, 1], cache=cache)
    with open(cache, "a") as f:
        f.write('{"key": "torn')  # a kill mid-write leaves a torn line
    calls = []
    real = ev.score_candidate
    monkeypatch.setattr(ev, "score_candidate", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    second = proxy_signal(archs, proxy, prof.search, seeds=[0, 1], cache=cache)
    assert len(calls) == 2  # only the new architecture's two seeds were trained
    np.testing.assert_array_equal(second["accuracy"][0], first["accuracy"][0])
    other = proxy_variant(prof.search, {"epochs": 2})
    proxy_signal(archs[:1], proxy, other, seeds=[0], cache=cache)
    assert len(calls) == 3  # another recipe is another run, never a cache hit


def test_proxy_variant_routes_split_and_recipe_fields():
    base = get_profile("cpu").search
    v = proxy_variant(base, {"proxy_train": 1500, "epochs": 1, "schedule": "cosine", "per_class": True})
    assert (v.proxy_train, v.per_class, v.proxy_val) == (1500, True, base.proxy_val)
    assert (v.proxy_recipe.epochs, v.proxy_recipe.schedule, v.proxy_recipe.lr) == (1, "cosine", base.proxy_recipe.lr)
    assert base.proxy_recipe.epochs == 3  # the profile itself is untouched
    with pytest.raises(ValueError, match="unknown proxy setting"):
        proxy_variant(base, {"epoch": 2})
    with pytest.raises(ValueError, match="schedule"):
        proxy_variant(base, {"schedule": "linear"})


def test_equal_mac_pair_moves_the_level_when_widths_are_too_coarse(monkeypatch):
    import gramlib.evidence as ev
    from conftest import trained_metagraph
    from gramlib import SearchSpace, build_model, count_cost
    from gramlib.skeleton import layout
    space = SearchSpace(hierarchies=2, dags_per_hierarchy=2, nodes=8, ops=("conv3x3-16", "conv1x1-16"),
                        skeleton=layout("pool-between", 2, stem_channels=8))
    mg = trained_metagraph(space, steps=80)
    shape = (3, 32, 32)

    def macs(a):
        return count_cost(build_model(a, 10, 3, input_size=32), shape).macs

    direct = ev.equal_mac_pair(mg, 0.65, 0.2, shape, tolerance=0.10)
    assert abs(macs(direct["thinned"]) / macs(direct["pruned"]) - 1) <= 0.10
    assert macs(direct["pruned"]) == direct["pruned_macs"] and macs(direct["thinned"]) == direct["thinned_macs"]

    def coarse(closest_macs):
        def fake(make, target, shape, **kw):  # as if no width landed within the tolerance
            raise ev.MatchError("too coarse", closest=(1.0, closest_macs))
        return fake

    light_macs = macs(mg.prune(0.2))  # the closest "width" is the unthinned light model: level 0.2 matches it exactly
    monkeypatch.setattr(ev, "match_macs", coarse(light_macs))
    moved = ev.equal_mac_pair(mg, 0.65, 0.2, shape, tolerance=0.10)
    assert moved["moved_level"] and moved["level"] == pytest.approx(0.2)
    assert moved["pruned"] == mg.prune(moved["level"]) and moved["pruned_macs"] == light_macs
    monkeypatch.setattr(ev, "match_macs", coarse(1))  # no pruning level has 1 MAC: both knobs fail
    with pytest.raises(ev.MatchError, match="no pruning level"):
        ev.equal_mac_pair(mg, 0.65, 0.2, shape, tolerance=0.10)


def test_speedup_at_equal_accuracy_reads_both_curves():
    from gramlib.evidence import pareto_front, speedup_at_equal_accuracy, summarize_speedup

    swift = [(70.0, 1.0), (80.0, 2.0), (85.0, 4.0), (75.0, 3.0)]  # (75, 3 ms) is dominated by (80, 2 ms)
    assert pareto_front(swift) == [(70.0, 1.0), (80.0, 2.0), (85.0, 4.0)]
    mobile = [(72.0, 2.0 * 2 ** 0.2), (80.0, 4.0), (90.0, 10.0)]  # twice the latency at 72 and 80; 90 % is out of range
    rows = speedup_at_equal_accuracy(swift, mobile)
    at_base = [r for r in rows if r["direction"] == "at baseline accuracy"]
    assert math.isclose(at_base[0]["speedup"], 2.0) and math.isclose(at_base[1]["speedup"], 2.0)
    assert math.isnan(at_base[2]["speedup"])  # never extrapolated
    s = summarize_speedup(rows)
    assert s["points"] >= 3 and s["min"] > 1.0
    assert math.isnan(summarize_speedup([{"speedup": math.nan}])["geomean"])


def test_speedup_bounds_when_the_curves_do_not_overlap():
    from gramlib.evidence import speedup_at_equal_accuracy, summarize_speedup

    swift = [(70.0, 1.0), (80.0, 2.0)]
    mobile = [(40.0, 3.0), (60.0, 6.0)]  # every MobileNet is less accurate and slower than the fastest SwiftNet
    rows = speedup_at_equal_accuracy(swift, mobile)
    assert all(math.isnan(r["speedup"]) for r in rows)
    at_base = [r for r in rows if r["direction"] == "at baseline accuracy"]
    assert [r["bound"] for r in at_base] == ["at least", "at least"]
    assert [r["speedup_bound"] for r in at_base] == [3.0, 6.0]  # against the 1 ms SwiftNet, already more accurate
    at_cand = [r for r in rows if r["direction"] == "at candidate accuracy"]
    assert [r["bound"] for r in at_cand] == ["at least", "at least"]  # MobileNet would need more than its 6 ms
    assert [r["speedup_bound"] for r in at_cand] == [6.0, 3.0]
    s = summarize_speedup(rows)
    assert math.isnan(s["geomean"]) and s["points"] == 0
    assert s["at_least_points"] == 4 and math.isclose(s["at_least"], (3 * 6 * 6 * 3) ** 0.25)
    # the mirror case: the baseline dominates, so the bounds are upper bounds and give no "at least"
    flipped = summarize_speedup(speedup_at_equal_accuracy(mobile, swift))
    assert flipped["at_least_points"] == 0 and math.isnan(flipped["at_least"])
    mixed = speedup_at_equal_accuracy([(70.0, 1.0), (80.0, 2.0)], [(75.0, 3.0), (90.0, 9.0)])
    assert [r["bound"] for r in mixed] == ["equal", "at most", "at most", "equal"]  # 90 % and 70 %: outside the other curve


def test_accuracy_gaps_name_short_rows():
    from gramlib.evidence import accuracy_gaps

    got = accuracy_gaps([{"model": "a", "accuracy": 81.0, "paper_accuracy": 85.92},
                         {"model": "b", "accuracy": 80.0, "paper_accuracy": 88.74},
                         {"model": "c", "accuracy": 91.0, "paper_accuracy": 90.17},
                         {"model": "d", "accuracy": None, "paper_accuracy": 90.0}])
    assert [g["verdict"] for g in got] == ["within 5 points", "short by 8.7 points", "above the paper", "not run"]


def test_network_left_says_what_the_budget_kept():
    from gramlib.evidence import network_left

    assert network_left({"active_nodes": 12, "identity_hierarchies": 1}) == "12 convolutions, 1 hierarchy pruned to identities"
    assert (network_left({"active_nodes": 32, "identity_hierarchies": 0, "width": 0.25})
            == "32 convolutions at width 0.25, no hierarchy pruned to identities")
    assert network_left({"active_nodes": 1, "identity_hierarchies": 2, "width": 1.0}).startswith("1 convolution, 2 hierarchies")
    assert "width" not in network_left({"active_nodes": 3, "identity_hierarchies": 0, "width": float("nan")})


def test_speedup_table_compares_each_group_on_its_own():
    """One comparison per (input, backend): a group's MobileNets never meet another group's SwiftNets, and a
    chosen latency column is the one read."""
    import pandas as pd
    from gramlib.evidence import speedup_table

    rows = []
    for size, factor in ((96, 2.0), (128, 3.0)):  # MobileNetV2 2x / 3x slower at equal accuracy
        for backend in ("eager", "onnxruntime"):
            for acc, ms in ((60.0, 1.0), (70.0, 2.0)):
                rows.append({"input": size, "backend": backend, "family": "SwiftNet", "top1": acc, "ms": ms,
                             "latency_ms": 99.0})
                rows.append({"input": size, "backend": backend, "family": "MobileNetV2", "top1": acc,
                             "ms": ms * factor, "latency_ms": 99.0})
    points, summary = speedup_table(pd.DataFrame(rows), latency="ms")
    assert [(s["input"], s["backend"]) for s in summary] == [(96, "eager"), (96, "onnxruntime"),
                                                             (128, "eager"), (128, "onnxruntime")]
    assert [round(s["geomean"], 6) for s in summary] == [2.0, 2.0, 3.0, 3.0]
    assert all(s["points"] == 4 for s in summary) and len(points) == 16
    assert all(p["input"] in (96, 128) and p["backend"] in ("eager", "onnxruntime") for p in points)
    assert "candidates_in_range" not in summary[0]  # no model column, no names
    named = pd.DataFrame([dict(r, model=f"{r['family']}-{r['top1']:g}") for r in rows]
                         + [{"input": 96, "backend": "eager", "family": "SwiftNet", "top1": 90.0, "ms": 5.0, "model": "big"}])
    assert speedup_table(named, latency="ms")[1][0]["candidates_in_range"] == "SwiftNet-60 (60.0 %), SwiftNet-70 (70.0 %)"
    by_input = speedup_table(pd.DataFrame(rows), by=["input"])[1]  # both backends in one curve: the constant column
    assert [s["input"] for s in by_input] == [96, 128] and all(round(s["geomean"], 6) == 1.0 for s in by_input)
