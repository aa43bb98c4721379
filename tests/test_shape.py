"""Layouts, pruning references and budget-driven level choice (gramlib.shape)."""

import json

import pytest

from conftest import trained_metagraph
from gramlib.evidence import recommended_proxy
from gramlib.shape import (CLIFF_SCALES, arch_cost, auto_width, fit_budgets, is_monotone, width_for, layouts_at_budgets, level_grid, level_profile, levels_for_budgets,
                           nearest_level, with_layout)


def test_with_layout_keeps_the_dags_and_moves_the_down_sampling(paper_space):
    arch = trained_metagraph(paper_space, 40).prune(0.05)
    small = with_layout(arch, "stem2-pool-before")
    assert small.dags == arch.dags and small.skeleton.stem_channels == arch.skeleton.stem_channels
    assert small.skeleton.resolutions(32) == (8, 4, 2)


def test_layouts_give_the_same_parameters_and_ratio_near_the_area(paper_space):
    mg = trained_metagraph(paper_space, 40)
    prof = {name: level_profile(mg, [0.05], layout_name=name)[0] for name in ("pool-between", "stem2-pool-before")}
    assert prof["pool-between"]["mparams"] == pytest.approx(prof["stem2-pool-before"]["mparams"])
    assert prof["stem2-pool-before"]["mmacs"] < prof["pool-between"]["mmacs"] / 8
    assert prof["stem2-pool-before"]["macs_per_param"] < 70  # at most the first hierarchy's 8x8 area


def test_nearest_level_is_nearest_in_ratio():
    prof = [{"level": 0.1, "mmacs": 40.0}, {"level": 0.3, "mmacs": 10.0}, {"level": 0.6, "mmacs": 2.0}]
    assert nearest_level(prof, 12)["level"] == 0.3
    assert nearest_level(prof, 3)["level"] == 0.6  # 3/2 = 1.5 beats 10/3
    with pytest.raises(ValueError):
        nearest_level(prof, 0)


def test_levels_for_budgets_and_layout_table(paper_space):
    mg = trained_metagraph(paper_space, 40)
    grid = level_grid(11)
    assert grid[0] == 0.0 and grid[-1] == 1.0 and 0.001 in grid
    prof = level_profile(mg, grid)
    lo, hi = min(r["mmacs"] for r in prof), max(r["mmacs"] for r in prof)
    budget = (lo * hi) ** 0.5
    (row,) = levels_for_budgets(mg, [budget], levels=grid)
    assert row["mmacs"] == nearest_level(prof, budget)["mmacs"]
    table = layouts_at_budgets(mg, [budget], grid, layouts=["pool-between", "stem2-pool-before"])
    assert [r["layout"] for r in table] == ["pool-between", "stem2-pool-before"]
    assert table[1]["resolutions"] == "8/4/2"
    # levels_for_budgets in another layout picks that layout's nearest level, as layouts_at_budgets does
    (moved,) = levels_for_budgets(mg, [budget], levels=grid, layout_name="stem2-pool-before")
    assert (moved["level"], moved["mmacs"]) == (table[1]["level"], table[1]["mmacs"])
    assert is_monotone([{"level": 0, "mmacs": 3}, {"level": 1, "mmacs": 1}])
    assert not is_monotone([{"level": 0, "mmacs": 1}, {"level": 1, "mmacs": 3}])


def test_recommended_proxy_reads_the_study(tmp_path):
    f = tmp_path / "10_proxy.metrics.json"
    variants = {"fast": {"epochs": 1}}
    f.write_text(json.dumps({"recommended": "fast"}))
    assert recommended_proxy(f, variants) == ("fast", {"epochs": 1})
    f.write_text(json.dumps({"recommended": "default"}))
    assert recommended_proxy(f, variants) == ("default", {})
    f.write_text(json.dumps({"recommended": "gone"}))
    with pytest.raises(ValueError, match="not among"):
        recommended_proxy(f, variants)
    with pytest.raises(ValueError, match="run the proxy stage"):
        recommended_proxy(tmp_path / "missing.json", variants)



def test_width_for_reads_one_number_or_a_mapping():
    assert width_for(0.5, "mnist") == 0.5
    assert width_for({"mnist": 0.25, "svhn": 1}, "svhn") == 1.0
    with pytest.raises(ValueError, match="no entry for 'fashion-mnist'"):
        width_for({"mnist": 0.25}, "fashion-mnist")
    assert width_for("auto", "mnist") == width_for({"mnist": "auto"}, "mnist") == "auto"
    for bad in (0, -1.0, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="finite number > 0"):
            width_for(bad, "mnist")


def test_auto_width_takes_the_widest_model_at_the_budget_with_every_hierarchy(paper_space):
    """Each candidate is judged on the model the full level grid would pick (the bisection finds the same MACs),
    and the chosen one has the most parameters among those within tolerance with no identity hierarchy."""
    mg = trained_metagraph(paper_space, 40)
    grid, shape = level_grid(21), (1, 28, 28)
    widths = (0.25, 0.5, 0.75, 1.0)
    budget = 3.0  # this meta-graph at 28 px: thin widths meet it with every hierarchy, full width only without one
    w, rows = auto_width(mg, budget, widths=widths, levels=grid, input_shape=shape, tolerance=0.5)
    assert [r["width"] for r in rows] == list(widths)
    for r in rows:
        (full,) = levels_for_budgets(mg, [budget], levels=grid, input_shape=shape, scale=r["width"])
        assert r["mmacs"] == pytest.approx(full["mmacs"]) and r["mparams"] == pytest.approx(full["mparams"])
        assert r["eligible"] == (abs(r["mmacs"] / budget - 1) <= 0.5 and r["identity_hierarchies"] == 0)
    eligible = [r for r in rows if r["eligible"]]
    assert eligible and any(r["identity_hierarchies"] for r in rows), "the budget should test both conditions"
    (chosen,) = [r for r in rows if r["chosen"]]
    assert chosen["width"] == w and chosen["mparams"] == max(r["mparams"] for r in eligible)
    assert chosen["rule"] == "most parameters within tolerance"
    # no width within tolerance: the fewest identity hierarchies, then the nearest MACs, said to be a fallback
    w0, rows0 = auto_width(mg, budget * 1.37, widths=widths, levels=grid, input_shape=shape, tolerance=0.0)
    (fallback,) = [r for r in rows0 if r["chosen"]]
    assert fallback["rule"] == "fallback" and fallback["width"] == w0
    assert fallback["identity_hierarchies"] == min(r["identity_hierarchies"] for r in rows0)
    with pytest.raises(ValueError, match="widths"):
        auto_width(mg, budget, widths=(0.5, 0), levels=grid)


def test_fit_budgets_prunes_alone_where_it_can_and_scales_channels_across_a_cliff(paper_space):
    """Table 1's pick: Figure 5's level where its model is within tolerance of the budget (scale 1); in a gap of the
    profile (a cliff), auto_width's rule over channel scales, said to be across a cliff; bad tolerance refused."""
    mg = trained_metagraph(paper_space, 40)
    grid = level_grid(21)
    prof = sorted(level_profile(mg, grid), key=lambda r: r["mmacs"])
    whole = [r for r in prof if not mg.prune(r["level"]).identity_hierarchies()]
    on = whole[len(whole) // 2]["mmacs"]  # a budget the profile meets exactly, with every hierarchy kept
    lo, hi = max(zip(prof, prof[1:]), key=lambda p: p[1]["mmacs"] / p[0]["mmacs"])  # the profile's widest gap
    assert hi["mmacs"] / lo["mmacs"] > 1.5, "the test needs a cliff"
    gap = (lo["mmacs"] * hi["mmacs"]) ** 0.5  # its middle: no level's model within 10 % of it
    exact, cliff = fit_budgets(mg, [on, gap], levels=grid)
    (alone,) = levels_for_budgets(mg, [on], levels=grid)
    assert exact["scale"] == 1.0 and exact["rule"] == "pruning alone" and exact["within_tolerance"]
    assert exact["mmacs"] == pytest.approx(alone["mmacs"]) and exact["identity_hierarchies"] == 0
    assert cliff["rule"].startswith("cliff: ") and cliff["scale"] != 1.0
    _, rows = auto_width(mg, gap, widths=(1.0, *CLIFF_SCALES), levels=grid)
    (chosen,) = [r for r in rows if r["chosen"]]
    assert (cliff["scale"], cliff["level"], cliff["mmacs"]) == (chosen["width"], chosen["level"], chosen["mmacs"])
    assert cliff["within_tolerance"] == (abs(cliff["mmacs"] / gap - 1) <= 0.10)
    arch = mg.prune(cliff["level"]).scale_channels(cliff["scale"])  # what Table 1 builds from the row
    assert arch_cost(arch, (3, 32, 32), 10)["mmacs"] == pytest.approx(cliff["mmacs"])
    with pytest.raises(ValueError, match="tolerance"):
        fit_budgets(mg, [on], levels=grid, tolerance=-1)
    # Figure 5 hands over the profile it drew: the same rows, and a profile of other levels is refused
    assert fit_budgets(mg, [on, gap], levels=grid, profile=level_profile(mg, grid)) == [exact, cliff]
    with pytest.raises(ValueError, match="exactly the given levels"):
        fit_budgets(mg, [on], levels=grid, profile=level_profile(mg, grid[::2]))


def test_thinning_before_budget_matching_keeps_more_of_the_network(paper_space):
    """At 28 px a budget near the smallest full-width model prunes whole hierarchies; a width multiplier applied
    first leaves a network with more convolutions at no more MACs (Table 4's width)."""
    mg = trained_metagraph(paper_space, 40)
    grid = level_grid(31)
    budget = min(r["mmacs"] for r in level_profile(mg, grid, input_shape=(1, 28, 28)))
    full, = levels_for_budgets(mg, [budget], levels=grid, input_shape=(1, 28, 28))
    thin, = levels_for_budgets(mg, [budget], levels=grid, input_shape=(1, 28, 28), scale=0.25)
    assert thin["mmacs"] <= budget * 1.2
    full_arch, thin_arch = mg.prune(full["level"]), mg.prune(thin["level"]).scale_channels(0.25)
    assert thin_arch.num_active_nodes > full_arch.num_active_nodes
    assert len(thin_arch.identity_hierarchies()) <= len(full_arch.identity_hierarchies())


def test_arch_cost_counts_each_architecture_and_input_once(paper_space, monkeypatch):
    import gramlib.shape as shape
    from gramlib.model import build_model
    from gramlib.profiling import count_cost

    monkeypatch.setattr(shape, "_COST_CACHE", {})
    arch = trained_metagraph(paper_space, 40).prune(0.05)
    first = shape.arch_cost(arch, (1, 28, 28))
    assert first["mmacs"] * 1e6 == count_cost(build_model(arch, 10, 1, input_size=28), (1, 28, 28)).macs  # fvcore's

    def no_counting(*a, **k):
        raise AssertionError("counted again")

    monkeypatch.setattr(shape, "count_cost_by_shapes", no_counting)
    assert shape.arch_cost(arch, (1, 28, 28)) == first
    with pytest.raises(AssertionError, match="counted again"):  # another input size is another count
        shape.arch_cost(arch, (3, 32, 32))
