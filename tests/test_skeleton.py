"""The macro skeleton as data: validation, named layouts, old-file reading, and the models it builds."""

import json
from dataclasses import replace

import pytest
import torch

from gramlib.architecture import Architecture, Dag
from gramlib.metagraph import MetaGraph
from gramlib.model import Hierarchy, build_model
from gramlib.profiles import PROFILES, get_profile
from gramlib.profiling import count_cost
from gramlib.skeleton import DOWNSAMPLES, LAYOUTS, Skeleton, layout
from gramlib.space import SearchSpace, SpaceError

BASE = SearchSpace(hierarchies=3, dags_per_hierarchy=2, nodes=6, ops=("conv1x1-8", "conv3x3-16"))


@pytest.mark.parametrize(
    "kw, msg",
    [({"stem_channels": 0}, "stem_channels"), ({"stem_channels": 8.0}, "stem_channels"),
     ({"stem_channels": True}, "stem_channels"), ({"stem_stride": 3}, "stem_stride"),
     ({"downsample": "max"}, "downsample .*string"), ({"downsample": ()}, "downsample is empty"),
     ({"downsample": ("none", "pool")}, "downsample entries"), ({"combine": "mean"}, "combine"),
     ({"dag_output": "first"}, "dag_output")],
)
def test_bad_skeleton(kw, msg):
    with pytest.raises(SpaceError, match=msg):
        Skeleton(**kw)


def test_skeleton_json_round_trip():
    sk = Skeleton(stem_channels=12, stem_stride=2, downsample=("conv", "avg"), combine="sum", dag_output="last")
    d = json.loads(json.dumps(sk.to_dict()))
    assert d["downsample"] == ["conv", "avg"] and Skeleton.from_dict(d) == sk and sk.hierarchies == 2
    with pytest.raises(SpaceError, match="unknown skeleton fields.*pool"):
        Skeleton.from_dict({**d, "pool": "max"})


def test_layouts():
    assert layout("pool-between", 3) == Skeleton()  # the default skeleton is gramlib's layout so far
    sk = layout("stem2-pool-before", 4, stem_channels=16, combine="sum")
    assert (sk.stem_stride, sk.downsample, sk.stem_channels, sk.combine) == (2, ("max",) * 4, 16, "sum")
    assert {n: layout(n).resolutions(32) for n in LAYOUTS} == {
        "pool-between": (32, 16, 8), "pool-before": (16, 8, 4), "stem2-pool-before": (8, 4, 2)}
    assert layout("stem2-pool-before", 6).resolutions(32)[-2:] == (1, 1)  # never 0
    assert Skeleton(downsample=("conv", "avg", "max")).resolutions(7) == (4, 2, 1)
    with pytest.raises(SpaceError, match=r"unknown skeleton layout 'pool'.*'pool-before'"):
        layout("pool")
    with pytest.raises(SpaceError, match="stem_stride"):
        layout("pool-before", 3, stem_stride=2)
    with pytest.raises(SpaceError, match="hierarchies"):
        layout("pool-before", 0)


def test_space_default_and_mismatched_skeleton():
    sp = SearchSpace(hierarchies=2, nodes=4)
    assert sp.skeleton == layout("pool-between", 2)
    assert SearchSpace.from_dict(json.loads(json.dumps(sp.to_dict()))) == sp
    assert SearchSpace(**sp.to_dict()) == sp  # a skeleton dict is read too
    with pytest.raises(SpaceError, match="one entry per hierarchy"):
        SearchSpace(hierarchies=2, skeleton=layout("pool-before", 3))
    with pytest.raises(SpaceError, match="one entry per hierarchy"):
        Architecture((Dag(("input", "conv1x1-8"), ()),), 1, 1, layout("pool-before", 2))


OLD_SPACE = {"hierarchies": 2, "dags_per_hierarchy": 1, "nodes": 4, "ops": ["conv1x1-8"], "filter_cap": None,
             "stem_channels": 16, "pool": "avg", "combine": "sum", "dag_output": "leaves", "out_degree": 1.0,
             "normalization": "row", "channel_multiple": 4, "extra": {}}


def test_old_flat_space_dict():
    sp = SearchSpace.from_dict(OLD_SPACE)
    assert sp.skeleton == Skeleton(stem_channels=16, stem_stride=1, downsample=("none", "avg"), combine="sum")
    assert "pool" not in sp.to_dict() and sp.to_dict()["skeleton"]["downsample"] == ["none", "avg"]
    with pytest.raises(SpaceError, match="not both"):
        SearchSpace.from_dict({**OLD_SPACE, "skeleton": sp.skeleton.to_dict()})
    # a meta-graph file written before skeletons existed still loads
    mg = MetaGraph(sp, seed=1)
    old = {**mg.to_dict(), "space": OLD_SPACE}
    assert MetaGraph.from_dict(json.loads(json.dumps(old)), expected_space=sp) == mg


def test_v1_architecture_json():
    v1 = {"format": "gramlib.architecture/1", "hierarchies": 2, "dags_per_hierarchy": 1, "stem_channels": 12,
          "pool": "max", "combine": "concat", "dag_output": "last",
          "dags": [{"ops": ["input", "conv3x3-8"], "edges": [[0, 1]]}, {"ops": ["input", "conv1x1-8"], "edges": []}]}
    a = Architecture.from_dict(v1)
    assert a.skeleton == Skeleton(stem_channels=12, downsample=("none", "max"), dag_output="last")
    assert (a.stem_channels, a.combine, a.dag_output) == (12, "concat", "last")
    assert a.dags[0].edges == ((0, 1),) and a.identity_dags() == [1]
    d = a.to_dict()
    assert d["format"] == "gramlib.architecture/2" and "stem_channels" not in d and d["skeleton"]["stem_channels"] == 12
    assert Architecture.from_json(a.to_json()) == a
    with pytest.raises(SpaceError, match="malformed"):
        Architecture.from_dict({**d, "skeleton": None})


def _resolutions(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for m in model.modules()
             if isinstance(m, Hierarchy)]
    model(x).sum().backward()
    for h in hooks:
        h.remove()
    return tuple(seen)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_builds_and_runs(name):
    space = replace(BASE, skeleton=layout(name, 3, stem_channels=8))
    arch = MetaGraph(space, seed=0).prune(0.3, reference="row_max")
    assert arch.skeleton == space.skeleton
    for channels, size in ((3, 32), (1, 28)):
        model = build_model(arch, 10, channels)
        res = _resolutions(model, torch.randn(2, channels, size, size))
        assert res == arch.skeleton.resolutions(size)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("kind", DOWNSAMPLES)
def test_every_downsampling_kind(kind):
    sk = Skeleton(stem_channels=8, downsample=(kind, kind, kind))
    arch = MetaGraph(replace(BASE, skeleton=sk), seed=0).prune(0.3, reference="row_max")
    model = build_model(arch, 10, 3)
    assert _resolutions(model, torch.randn(2, 3, 32, 32)) == sk.resolutions(32)
    convs = [m for m in model.hierarchies if not isinstance(m, Hierarchy)]
    assert len(convs) == (0 if kind == "none" else 3)
    if kind == "conv":  # stride-2 3x3 conv keeping the channel count
        conv = convs[0][0]
        assert conv.stride == (2, 2) and conv.in_channels == conv.out_channels == 8


def test_default_layout_keeps_module_indices():
    # old checkpoints of the "pool-between" layout have hierarchies at indices 0, 2, 4 and the pools at 1, 3
    model = build_model(MetaGraph(BASE, seed=0).sample())
    kinds = [type(m).__name__ for m in model.hierarchies]
    assert kinds == ["Hierarchy", "MaxPool2d", "Hierarchy", "MaxPool2d", "Hierarchy"]


def test_stem2_layout_costs_fewer_macs():
    arch = MetaGraph(replace(BASE, skeleton=layout("pool-between", 3, stem_channels=8)), seed=0).prune(0.3, reference="row_max")
    small = replace(arch, skeleton=layout("stem2-pool-before", 3, stem_channels=8))
    macs = {a.skeleton.stem_stride: count_cost(build_model(a), (3, 32, 32)).macs for a in (arch, small)}
    assert macs[2] < macs[1] / 8  # every hierarchy at 1/4 of the side: about 1/16 of the MACs


def test_profiles_use_the_paper_shaped_layout():
    # docs/interpretation.md, "Layout": a stride-2 stem and a pool before every hierarchy give the paper's MACs/params
    for p in PROFILES.values():
        sk = p.space.skeleton
        assert sk == layout("stem2-pool-before", p.space.hierarchies, stem_channels=sk.stem_channels)
    p = get_profile("cpu", space={"skeleton": {"stem_stride": 1, "downsample": ["none", "max", "max"]}})
    assert p.space.skeleton == layout("pool-between", 3, stem_channels=32)
    with pytest.raises(ValueError, match="bad override"):
        get_profile("cpu", space={"skeleton": {"pool": "max"}})
