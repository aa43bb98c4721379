import json

import pytest

from gramlib.architecture import Architecture, Dag
from gramlib.metagraph import MetaGraph
from gramlib.skeleton import layout
from gramlib.space import SearchSpace, SpaceError


def arch_of(dags, h=1, m=None, **kw):
    m = m or len(dags) // h
    return Architecture(tuple(dags), hierarchies=h, dags_per_hierarchy=m, **kw)


def test_json_round_trip_and_hash(paper_space):
    a = MetaGraph(paper_space, seed=3).sample()
    b = Architecture.from_json(a.to_json())
    assert a == b and hash(a) == hash(b)
    assert json.loads(a.to_json())["dags"][0]["ops"][0] == "input"
    assert a.scale_channels(1.5) != a


def test_save_load(tmp_path, small_space):
    a = MetaGraph(small_space, seed=1).sample()
    a.save(tmp_path / "a.json")
    assert Architecture.load(tmp_path / "a.json") == a


def test_dead_nodes_removed():
    # node 3 is unreachable from the input; its edge 3->4 is dead; 1->2 and 0->1 live
    d = Dag(("input", "conv1x1-8", "conv3x3-8", "conv1x1-8", "conv1x1-8"), ((0, 1), (1, 2), (3, 4)))
    assert d.live_nodes() == [0, 1, 2]
    assert d.without_dead_nodes().edges == ((0, 1), (1, 2))
    assert d.output_nodes() == [2]
    # with "last" output, node 2 does not reach node 4: nothing is live but the input
    assert d.live_nodes("last") == [0]
    assert d.without_dead_nodes("last").edges == ()
    d2 = Dag(d.ops, ((0, 1), (1, 4), (0, 2), (2, 3)))
    assert d2.live_nodes("last") == [0, 1, 4]
    assert d2.output_nodes("leaves") == [3, 4]


def test_counts_and_identity():
    live = Dag(("input", "conv1x1-8", "conv1x1-8"), ((0, 1), (0, 2), (1, 2)))
    empty = Dag(("input", "conv1x1-8", "conv1x1-8"), ((1, 2),))
    a = arch_of([live, empty])
    assert a.num_edges == 4
    assert a.without_dead_nodes().num_edges == 3
    assert a.num_active_nodes == 2
    assert a.identity_dags() == [1]


def test_scale_channels_rounds_to_multiple():
    a = arch_of([Dag(("input", "conv3x3-32", "conv1x1-64"), ((0, 1), (1, 2)))], skeleton=layout("pool-before", 1, stem_channels=32))
    s = a.scale_channels(1.25)
    assert s.dags[0].ops == ("input", "conv3x3-40", "conv1x1-80") and s.stem_channels == 40
    assert s.skeleton == layout("pool-before", 1, stem_channels=40)  # only the width changes
    assert a.scale_channels(0.1).dags[0].ops[1] == "conv3x3-4"  # never below one multiple


@pytest.mark.parametrize("factor", [0, -1.0, float("nan"), float("inf")])
def test_bad_scale_factor(factor):
    a = arch_of([Dag(("input", "conv3x3-32"), ((0, 1),))])
    with pytest.raises(SpaceError, match="scaling factor"):
        a.scale_channels(factor)


@pytest.mark.parametrize(
    "kw, msg",
    [({"nodes": 1}, "nodes must be >= 2"), ({"ops": ()}, "empty"), ({"ops": ("conv2x2-8",)}, "bad node operation"),
     ({"ops": ("pool",)}, "bad node operation"), ({"hierarchies": 0}, "hierarchies"), ({"filter_cap": 0}, "filter_cap"),
     ({"skeleton": {"combine": "mean"}}, "combine"), ({"out_degree": 0}, "out_degree"),
     ({"hierarchies": 2, "skeleton": layout("pool-between", 3)}, "3 down-sampling entries .* 2 hierarchies")],
)
def test_bad_space(kw, msg):
    with pytest.raises(SpaceError, match=msg):
        SearchSpace(**kw)


def test_bad_architecture_values():
    with pytest.raises(SpaceError, match="forward edge"):
        Dag(("input", "conv1x1-8"), ((1, 0),))
    with pytest.raises(SpaceError, match="format"):
        Architecture.from_dict({"dags": []})
    with pytest.raises(SpaceError, match="DAGs given"):
        Architecture((Dag(("input", "conv1x1-8"), ()),), hierarchies=2, dags_per_hierarchy=1)
