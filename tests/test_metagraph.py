import json
import math

import numpy as np
import pytest

from conftest import trained_metagraph
from gramlib.metagraph import MetaGraph, MetaGraphError, PruneError, UpdateRule
from gramlib.model import build_model
from gramlib.profiling import count_cost
from gramlib.space import SearchSpace


def row_sums(mg):
    return mg.weights.sum(axis=2)[:, :-1]


def test_initial_weights_uniform_per_row(small_space):
    mg = MetaGraph(small_space, seed=0)
    n = small_space.nodes
    for i in range(n - 1):
        np.testing.assert_allclose(mg.weights[:, i, i + 1 :], small_space.out_degree / (n - 1 - i))
    assert np.all(np.tril(mg.weights[0]) == 0)
    assert mg.edge_entropy() == pytest.approx(1.0)


def test_sample_is_a_subgraph_from_the_input(paper_space):
    mg = MetaGraph(paper_space, seed=0)
    a = mg.sample()
    mg.check_belongs(a)
    for d in a.dags:
        assert d.edges == d.without_dead_nodes().edges  # nothing dead survives sampling
        assert all(i in d.live_nodes() for i, _ in d.edges)


@pytest.mark.parametrize("accuracy, direction", [(0.9, +1), (0.0, -1)])
def test_update_moves_sampled_edges(small_space, accuracy, direction):
    mg = MetaGraph(small_space, UpdateRule(cost="none", beta_init=0.4), seed=0)
    a = mg.sample()
    while a.num_edges == 0:
        a = mg.sample()
    before = mg.weights.copy()
    info = mg.update(a, accuracy)
    assert info["factor"] == pytest.approx(math.exp(0.9 * (accuracy - 0.4)))
    for k, d in enumerate(a.dags):
        for i, j in d.edges:
            # the sampled edge gains (or loses) share of its row against unsampled siblings
            others = [jj for jj in range(i + 1, small_space.nodes) if (i, jj) not in d.edges]
            if others:  # a row whose every edge was sampled keeps its shares
                assert np.sign(mg.weights[k, i, j] - before[k, i, j]) == direction
            for jj in others:
                ratio_before = before[k, i, j] / before[k, i, jj]
                assert np.sign(mg.weights[k, i, j] / mg.weights[k, i, jj] - ratio_before) == direction
    np.testing.assert_allclose(row_sums(mg), small_space.out_degree)  # Z_t renormalises
    assert mg.beta == pytest.approx(0.9 * 0.4 + 0.1 * accuracy)      # β moves towards η′
    assert mg.iteration == 1


def test_update_latency_penalty_and_dag_normalisation():
    sp = SearchSpace(hierarchies=1, dags_per_hierarchy=2, nodes=5, ops=("conv1x1-8",), normalization="dag")
    mg = MetaGraph(sp, UpdateRule(gamma=1.0, cost="latency_ms"), seed=0)
    a = mg.sample()
    info = mg.update(a, 0.8, latency_ms=0.5)
    assert info["reward"] == pytest.approx(0.3)
    np.testing.assert_allclose(mg.weights.sum(axis=(1, 2)), sp.out_degree * (sp.nodes - 1))
    with pytest.raises(MetaGraphError, match="latency"):
        mg.update(a, 0.8)
    with pytest.raises(MetaGraphError, match="finite"):
        mg.update(a, float("nan"), latency_ms=1.0)


def test_update_rejects_foreign_architecture(small_space):
    a = MetaGraph(small_space, seed=0).sample()
    other = MetaGraph(small_space, seed=99)
    with pytest.raises(MetaGraphError, match="node operations"):
        other.update(a, 0.5)


def test_learning_concentrates_weights(small_space):
    mg = trained_metagraph(small_space, steps=150)
    assert mg.edge_entropy() < 0.95
    # edges into odd nodes were rewarded: they hold more mass than edges into even nodes
    w = mg.weights
    odd = w[:, :, 1::2].sum()
    even = w[:, :, 2::2].sum()
    assert odd > even


def test_prune_monotone_in_edges_and_macs(paper_space):
    mg = trained_metagraph(paper_space, steps=120)
    levels = np.linspace(0, 1, 11)
    edges, macs = [], []
    for lv in levels:
        a = mg.prune(float(lv), reference="row_max")
        edges.append(a.num_edges)
        macs.append(count_cost(build_model(a), (3, 32, 32)).macs)
    assert all(e1 >= e2 for e1, e2 in zip(edges, edges[1:])), edges
    assert all(m1 >= m2 for m1, m2 in zip(macs, macs[1:])), macs
    assert edges[0] == paper_space.num_dags * paper_space.nodes * (paper_space.nodes - 1) // 2  # level 0 = complete
    assert macs[0] > 3 * macs[-1]
    # row_max keeps each node's strongest edge: no DAG collapses
    assert mg.prune(1.0, reference="row_max").identity_dags() == []


@pytest.mark.parametrize("level", [-0.1, 1.01, float("nan"), "0.5"])
def test_prune_level_out_of_range(small_space, level):
    with pytest.raises(ValueError, match="pruning level"):
        MetaGraph(small_space).prune(level)


def test_prune_removing_every_path(small_space, caplog):
    caplog.set_level("INFO", logger="gramlib.metagraph")
    mg = MetaGraph(small_space, seed=0)
    # absolute keep-probabilities of an untrained 6-node DAG are <= 1/1: level 1 keeps only the last row
    with pytest.raises(PruneError, match="no path"):
        mg.prune(0.9, reference="absolute", on_empty="error")
    a = mg.prune(0.9, reference="absolute")
    assert a.identity_dags() == list(range(small_space.num_dags))
    assert "become identities" in caplog.text
    out = build_model(a)(__import__("torch").zeros(2, 3, 8, 8))  # identity DAGs still build and run
    assert out.shape == (2, 10)


def test_save_load_round_trip(tmp_path, small_space):
    mg = trained_metagraph(small_space, steps=5)
    mg.save(tmp_path / "mg.json")
    back = MetaGraph.load(tmp_path / "mg.json", expected_space=small_space)
    assert back == mg
    assert back.sample() == mg.sample()  # sampler state travels with the file
    assert json.loads((tmp_path / "mg.json").read_text())["space"]["nodes"] == small_space.nodes


def test_load_rejects_other_space_and_corrupt_file(tmp_path, small_space):
    MetaGraph(small_space).save(tmp_path / "mg.json")
    other = SearchSpace(**{**small_space.to_dict(), "nodes": 7})
    with pytest.raises(MetaGraphError, match="another search space.*nodes"):
        MetaGraph.load(tmp_path / "mg.json", expected_space=other)
    (tmp_path / "bad.json").write_text('{"format": "gramlib.metagraph/1", "spa')
    with pytest.raises(MetaGraphError, match="bad.json"):
        MetaGraph.load(tmp_path / "bad.json")
