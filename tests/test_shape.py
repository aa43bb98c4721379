"""Layouts, pruning references and budget-driven level choice (gramlib.shape)."""

import json

import pytest

from conftest import trained_metagraph
from gramlib.evidence import recommended_proxy
from gramlib.shape import (is_monotone, layouts_at_budgets, level_grid, level_profile, levels_for_budgets,
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

