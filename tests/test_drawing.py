import matplotlib
from matplotlib.figure import Figure

from gramlib.architecture import Architecture, Dag
from gramlib.drawing import dag_layout, draw_architecture
from gramlib.metagraph import MetaGraph
from gramlib.skeleton import Skeleton
from gramlib.space import SearchSpace

matplotlib.use("Agg")  # gramlib.drawing never imports pyplot, so setting the backend here is early enough

OPS = ("input", "conv3x3-64", "conv1x1-32", "conv3x3-32", "conv1x1-64", "conv3x3-64")


def test_layout_depth_is_longest_path():
    pos = dag_layout(Dag(OPS[:3], [(0, 1), (1, 2), (0, 2)]))
    assert pos[0] == (0.0, 0.0) and pos[1][1] == -1.0 and pos[2][1] == -2.0


def test_layout_places_live_nodes_only():
    # node 3 is unreachable; 1 and 2 share depth 1 and are spread apart; 4 waits for its longest input
    dag = Dag(OPS, [(0, 1), (0, 2), (1, 4), (2, 4), (3, 5), (0, 4)])
    pos = dag_layout(dag)
    assert set(pos) == set(dag.live_nodes()) == {0, 1, 2, 4}
    assert pos[1][1] == pos[2][1] == -1.0 and pos[1][0] != pos[2][0] and pos[4][1] == -2.0
    assert set(dag_layout(dag, include_dead=True)) == set(range(6))
    # with dag_output="last", only nodes on a path to node 5 are live: none, so the input alone
    assert set(dag_layout(dag, "last")) == {0}


def test_draw_sampled_architecture(tmp_path):
    arch = MetaGraph(SearchSpace(hierarchies=2, dags_per_hierarchy=3, nodes=8), seed=0).sample()
    fig = draw_architecture(arch, title="sampled")
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert fig.axes[0].get_title().startswith("H1 · DAG 1") and fig.axes[5].get_title().startswith("H2 · DAG 3")
    fig.savefig(tmp_path / "a.png", dpi=50)
    assert (tmp_path / "a.png").stat().st_size > 0
    assert len(draw_architecture(arch, show_dead=True).axes) == 6


def test_draw_identity_architecture(tmp_path):
    arch = MetaGraph(SearchSpace(hierarchies=1, dags_per_hierarchy=2, nodes=6)).prune(0.9, reference="absolute")
    assert len(arch.identity_dags()) == 2
    fig = draw_architecture(arch)
    assert len(fig.axes) == 2 and "(0 ops, 0 edges)" in fig.axes[0].get_title()
    assert any(t.get_text() == "identity" for t in fig.axes[0].texts)
    fig.savefig(tmp_path / "a.png", dpi=50)
    assert (tmp_path / "a.png").stat().st_size > 0


def test_draw_handcrafted_last_output():
    dag = Dag(OPS, [(0, 1), (1, 5), (0, 2)])  # node 2 is a dead end when only node 5 is the output
    arch = Architecture((dag,), hierarchies=1, dags_per_hierarchy=1, skeleton=Skeleton(downsample=("none",), dag_output="last"))
    fig = draw_architecture(arch)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"in", "out", "3×3·64"} <= labels and "1×1·32" not in labels
