import pytest
import torch
import torchvision

from conftest import trained_metagraph
from gramlib.architecture import Architecture, Dag
from gramlib.metagraph import MetaGraph
from gramlib.model import adapter_layers_for, build_model
from gramlib.skeleton import Skeleton
from gramlib.profiling import accuracy_density, count_cost, count_cost_by_shapes, measure_latency


@pytest.mark.parametrize(
    "channels, size, classes",
    [(3, 32, 10), (1, 28, 10), (3, 96, 7), (3, 128, 5)],
)
def test_forward_backward_all_input_sizes(paper_space, channels, size, classes):
    arch = MetaGraph(paper_space, seed=1).sample()
    model = build_model(arch, num_classes=classes, in_channels=channels, input_size=size)
    x = torch.randn(2, channels, size, size)
    out = model(x)
    assert out.shape == (2, classes)
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("combine, dag_output", [("concat", "leaves"), ("sum", "leaves"), ("concat", "last"), ("sum", "last")])
def test_wiring_modes_build_and_run(small_space, combine, dag_output):
    from dataclasses import replace

    space = replace(small_space, skeleton=replace(small_space.skeleton, combine=combine, dag_output=dag_output))
    mg = trained_metagraph(space, steps=10)
    for arch in (mg.sample(), mg.prune(0.0), mg.prune(0.7)):
        model = build_model(arch).to(memory_format=torch.channels_last)
        y = model(torch.randn(2, 3, 16, 16).to(memory_format=torch.channels_last))
        y.sum().backward()
        assert y.shape == (2, 10)


def test_adapter_depth():
    assert [adapter_layers_for(s) for s in (28, 32, 64, 96, 128, 224)] == [0, 0, 1, 2, 2, 3]
    m = build_model(MetaGraph(__import__("gramlib").SearchSpace(nodes=3), seed=0).sample(), input_size=96)
    assert len(m.adapter) == 2


def fixed_arch(combine="concat"):
    # stem 3->4 (3x3); node1 conv3x3-8 from input; node2 conv1x1-4 from input and node1; output = leaf node2
    dag = Dag(("input", "conv3x3-8", "conv1x1-4"), ((0, 1), (0, 2), (1, 2)))
    return Architecture((dag,), hierarchies=1, dags_per_hierarchy=1,
                        skeleton=Skeleton(stem_channels=4, downsample=("none",), combine=combine))


@pytest.mark.parametrize("combine, node2_in", [("concat", 4 + 8), ("sum", 8)])
def test_macs_match_hand_count(combine, node2_in):
    hw = 8 * 8
    hand = (3 * 4 * 9 * hw          # stem
            + 4 * 8 * 9 * hw        # node 1, 3x3 on the stem output
            + node2_in * 4 * 1 * hw  # node 2, 1x1 on its merged inputs
            + 4 * 10)               # classifier on the 4-channel leaf
    cost = count_cost(build_model(fixed_arch(combine)), (3, 8, 8))
    assert cost.macs == hand
    hand_params = (3 * 4 * 9 + 2 * 4) + (4 * 8 * 9 + 2 * 8) + (node2_in * 4 + 2 * 4) + (4 * 10 + 10)
    assert cost.params == hand_params
    assert cost.macs_all_ops > cost.macs  # fvcore's own total also counts BatchNorm


@pytest.mark.parametrize("stem_stride, downsample, combine, dag_output", [
    (1, ("none", "max", "max"), "concat", "leaves"),
    (2, ("max", "max", "max"), "sum", "last"),
    (1, ("avg", "conv", "max"), "concat", "last"),
    (2, ("conv", "avg", "none"), "sum", "leaves"),
])
def test_shape_count_is_fvcores_count(paper_space, stem_stride, downsample, combine, dag_output):
    # pruning profiles and search candidates are counted by shapes: every figure must be fvcore's, in every
    # skeleton, pruning reference, channel scale, input (adapters at 96 px, odd and 1x1 maps at 5 px) and class count
    from dataclasses import replace

    space = replace(paper_space, skeleton=Skeleton(stem_channels=16, stem_stride=stem_stride, downsample=downsample,
                                                   combine=combine, dag_output=dag_output))
    mg = trained_metagraph(space, 40)
    archs = [mg.sample(), mg.prune(0.0), mg.prune(0.3), mg.prune(0.9), mg.prune(0.3, reference="row_max").scale_channels(0.5)]
    assert any(a.identity_dags() for a in archs)  # a DAG pruned to an identity is counted too
    inputs = [(3, 32, 10), (1, 28, 10), (3, 96, 7), (3, 5, 100), (3, 32, 10)]
    for arch, (c, size, classes) in zip(archs, inputs):
        model = build_model(arch, classes, c, input_size=size)
        assert count_cost_by_shapes(model, (c, size, size)) == count_cost(model, (c, size, size)), (arch.to_dict(), size)
        assert model.training  # left in the mode it came in


def test_shape_count_refuses_what_it_cannot_count_exactly():
    with pytest.raises(TypeError, match="SwiftNets only"):  # its average pool is a function call, invisible to hooks
        count_cost_by_shapes(torchvision.models.mobilenet_v2(width_mult=0.35), (3, 32, 32))
    model = build_model(fixed_arch())
    model.classifier = torch.nn.Sequential(torch.nn.LayerNorm(4), torch.nn.Linear(4, 10))  # fvcore counts LayerNorm
    with pytest.raises(ValueError, match="LayerNorm"):
        count_cost_by_shapes(model, (3, 8, 8))


def test_mobilenet_v2_counts_match_published():
    # MobileNetV2 paper: 300 M MACs at width 1.0 (224); 59 M at 0.35 (224); SwiftNet paper Table 2: 11 M at 0.35 (96)
    m1 = torchvision.models.mobilenet_v2(width_mult=1.0)
    m035 = torchvision.models.mobilenet_v2(width_mult=0.35)
    assert count_cost(m1, (3, 224, 224)).macs / 1e6 == pytest.approx(300, rel=0.02)
    assert count_cost(m035, (3, 224, 224)).macs / 1e6 == pytest.approx(59, rel=0.03)
    assert count_cost(m035, (3, 96, 96)).macs / 1e6 == pytest.approx(11, rel=0.10)


def test_upscaling_raises_macs_by_square(paper_space):
    mg = trained_metagraph(paper_space, steps=30)
    arch = mg.prune(0.5)
    base = count_cost(build_model(arch), (3, 32, 32)).macs
    up = count_cost(build_model(arch.scale_channels(1.5)), (3, 32, 32)).macs
    assert up / base == pytest.approx(1.5**2, rel=0.12)


def test_density_and_latency():
    assert accuracy_density(90.0, 36e6) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        accuracy_density(90.0, 0)
    lat = measure_latency(build_model(fixed_arch()), (3, 8, 8), runs=3, warmup=1, threads=1)
    assert lat.runs == 3 and lat.threads == 1 and lat.median_ms > 0 and lat.p10_ms <= lat.p90_ms
    assert torch.get_num_threads() == 2  # restored afterwards


def test_dead_nodes_are_not_built():
    dag = Dag(("input", "conv1x1-8", "conv1x1-8", "conv1x1-8"), ((0, 1), (2, 3)))
    model = build_model(Architecture((dag,), 1, 1, Skeleton(stem_channels=4, downsample=("none",))))
    assert list(model.hierarchies[0].dags[0].nodes.keys()) == ["1"]
