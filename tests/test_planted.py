"""The planted-reward check: Algorithm 1 against a reward that favours known edges."""

import numpy as np
import pytest

from gramlib.metagraph import MetaGraph, UpdateRule
from gramlib.planted import PlantedReward, converged, iterations_to_converge, run_planted
from gramlib.space import SearchSpace

SMOKE = SearchSpace(hierarchies=2, dags_per_hierarchy=2, nodes=5, ops=("conv1x1-8", "conv3x3-8"), filter_cap=8)
CHOSEN = UpdateRule(cost="none", advantage="standardized", alpha=0.5, explore=0.1)


def test_planting_gives_one_out_edge_per_node_and_reaches_the_last_node():
    r = PlantedReward.draw(SMOKE, seed=3)
    assert r.planted.shape == (4, 5, 5)
    assert np.all(r.planted.sum(axis=2)[:, :-1] == 1) and not r.planted[:, -1].any()
    assert not np.tril(r.planted[0]).any()
    rows = r.relevant_rows
    assert rows[:, 0].all() and not rows[:, -1].any()


def test_reward_prefers_the_planted_architecture():
    r = PlantedReward.draw(SMOKE, seed=0)
    mg = MetaGraph(SMOKE, seed=0)
    mg.weights[:] = r.planted * 1.0  # a meta-graph that has learned exactly the planted edges
    best = mg.sample()
    assert best.num_edges == r.num_planted
    assert r(best) == pytest.approx(r.base + r.spread - r.cost_per_edge * best.num_edges / (4 * 4))
    assert converged(r.convergence(mg))
    uniform = MetaGraph(SMOKE, seed=1)
    scores = [r(uniform.sample()) for _ in range(200)]
    assert max(scores) < r(best)  # nothing the untrained sampler draws is as good


def test_chosen_reading_finds_the_planted_edges_at_smoke_size():
    rows = run_planted(SMOKE, CHOSEN, 400, seed=0)
    assert iterations_to_converge(rows) is not None
    assert rows[-1]["planted_mean"] > 0.9 and rows[-1]["rows_learned"] == 1.0


def test_literal_reading_learns_less_than_the_chosen_one():
    """The paper's α = 0.9 on raw η′ − β moves weights by about 1 % per iteration: not converged in 400."""
    literal = run_planted(SMOKE, UpdateRule(cost="none"), 400, seed=0)
    chosen = run_planted(SMOKE, CHOSEN, 400, seed=0)
    assert iterations_to_converge(literal) is None
    assert literal[-1]["rows_learned"] < chosen[-1]["rows_learned"]
    assert literal[-1]["entropy"] > chosen[-1]["entropy"]


def test_run_planted_rejects_a_rule_with_its_own_cost():
    with pytest.raises(ValueError, match="cost='none'"):
        run_planted(SMOKE, UpdateRule(cost="log10_macs"), 3)


def test_exploration_mixes_the_uniform_row_into_sampling():
    mg = MetaGraph(SMOKE, UpdateRule(explore=0.2), seed=0)
    mg.weights[:] = 0.0
    mg.weights[:, 0, 1] = 1.0
    q = mg.sampling_probabilities()
    assert q[0, 0, 1] == pytest.approx(0.8 + 0.2 / 4) and q[0, 0, 2] == pytest.approx(0.2 / 4)
    np.testing.assert_array_equal(mg.keep_probabilities()[0, 0, 2], 0.0)  # what was learned is unchanged


def test_standardized_advantage_is_in_units_of_its_running_rms():
    mg = MetaGraph(SMOKE, UpdateRule(cost="none", advantage="standardized", alpha=0.5), seed=0)
    a = mg.sample()
    info = mg.update(a, 0.5)  # first advantage 0.1: its own RMS, so a step of exactly α
    assert info["advantage"] == pytest.approx(1.0) and info["factor"] == pytest.approx(np.exp(0.5))
    info = mg.update(a, mg.beta)  # zero advantage: no move
    assert info["factor"] == pytest.approx(1.0)
    d = mg.to_dict()
    assert MetaGraph.from_dict(d).advantage_ms == mg.advantage_ms


def test_one_worker_is_algorithm_1_and_more_workers_update_with_stale_samples():
    reward = PlantedReward.draw(SMOKE, seed=0)
    ref = MetaGraph(SMOKE, CHOSEN, seed=0)
    for _ in range(60):
        arch = ref.sample()
        ref.update(arch, reward(arch))
    one = run_planted(SMOKE, CHOSEN, 60, seed=0, reward=reward, every=60, workers=1)
    assert one[-1]["planted_mean"] == reward.convergence(ref)["planted_mean"]  # the same weights, bit for bit

    # k = 3 by hand: the first three samples come from the initial meta-graph, then one per update
    stale = MetaGraph(SMOKE, CHOSEN, seed=0)
    queue = [stale.sample() for _ in range(3)]
    for t in range(60):
        arch = queue.pop(0)
        stale.update(arch, reward(arch))
        if t + 3 < 60:
            queue.append(stale.sample())
    three = run_planted(SMOKE, CHOSEN, 60, seed=0, reward=reward, every=60, workers=3)
    assert three[-1]["planted_mean"] == reward.convergence(stale)["planted_mean"]
    assert three[-1]["planted_mean"] != one[-1]["planted_mean"]
    with pytest.raises(ValueError, match="workers"):
        run_planted(SMOKE, CHOSEN, 10, workers=0)
