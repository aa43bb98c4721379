"""TorchScript / ONNX export of SwiftNets and MobileNetV2, and concurrent DAGs (gramlib.export)."""

import warnings
from dataclasses import replace

import pytest
import torch

from gramlib.experiments import mobilenet_v2
from gramlib.export import (count_forks, export_onnx, export_torchscript, max_abs_difference, onnx_session,
                            parallel_dags)
from gramlib.metagraph import MetaGraph
from gramlib.model import Hierarchy, build_model
from gramlib.skeleton import Skeleton, layout
from gramlib.space import SearchSpace

TOL = 1e-4
SPACE = SearchSpace(hierarchies=3, dags_per_hierarchy=3, nodes=8, filter_cap=16,
                    skeleton=layout("pool-between", 3, stem_channels=16))
# every down-sampling kind, and odd maps (28 -> 14 -> 7 -> 4 -> 2): ceil-mode pooling must export as it runs
ODD_SKELETON = Skeleton(stem_channels=16, stem_stride=2, downsample=("conv", "avg", "max"))


def _randomize_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so that eval-mode BN (and its folding) is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model


def _swiftnet(input_size: int, skeleton: Skeleton | None = None, in_channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    arch = MetaGraph(SPACE if skeleton is None else replace(SPACE, skeleton=skeleton), seed=0).sample()
    return _randomize_bn(build_model(arch, 10, in_channels, input_size=input_size)).eval()


def _mobilenet(input_size: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return _randomize_bn(mobilenet_v2(0.35, 10, small_input=input_size <= 32)).eval()


MODELS = {
    "swiftnet32": (lambda: _swiftnet(32), (3, 32, 32)),
    "swiftnet96-adapter": (lambda: _swiftnet(96), (3, 96, 96)),
    "swiftnet28-odd-skeleton": (lambda: _swiftnet(28, ODD_SKELETON, 1), (1, 28, 28)),
    "mobilenetv2-0.35-96": (lambda: _mobilenet(96), (3, 96, 96)),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    build, shape = MODELS[request.param]
    return request.param, build(), shape


def test_swiftnet96_has_adapter():
    assert len(_swiftnet(96).adapter) == 2 and len(_swiftnet(32).adapter) == 0


def test_torchscript_matches_eager(case, tmp_path):
    name, model, shape = case
    ts = export_torchscript(model, shape, tmp_path / f"{name}.pt")
    assert isinstance(ts, torch.jit.ScriptModule)
    assert max_abs_difference(model, ts, shape, batch=2) < TOL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(tmp_path / f"{name}.pt"))
    assert max_abs_difference(model, loaded, shape, batch=3, seed=1) < TOL


def test_frozen_torchscript_matches_eager(case):
    _, model, shape = case
    ts = export_torchscript(model, shape, freeze=True)
    assert max_abs_difference(model, ts, shape) < TOL


def test_export_keeps_train_mode():
    model = _swiftnet(32).train()
    export_torchscript(model, (3, 32, 32), check_trace=False)
    assert model.training


def test_parallel_dags_trace_records_forks_and_matches():
    model = _swiftnet(32)
    shape = (3, 32, 32)
    plain = export_torchscript(model, shape)
    par = export_torchscript(model, shape, parallel_dags=True)
    assert count_forks(plain) == 0
    assert count_forks(par) == SPACE.hierarchies * SPACE.dags_per_hierarchy  # one fork per DAG
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (par(x) - plain(x)).abs().max() < TOL
        assert (par(x) - model(x)).abs().max() < TOL
    frozen = export_torchscript(model, shape, parallel_dags=True, freeze=True)
    assert count_forks(frozen) == SPACE.hierarchies * SPACE.dags_per_hierarchy
    assert max_abs_difference(model, frozen, shape) < TOL


def test_parallel_dags_context_is_opt_in_and_restored():
    model = _swiftnet(32)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        with parallel_dags(model) as m:
            assert m is model
            assert all("forward" in h.__dict__ for h in model.modules() if isinstance(h, Hierarchy))
            assert torch.equal(model(x), ref)  # eager: same computation, sequential
        assert all("forward" not in h.__dict__ for h in model.modules() if isinstance(h, Hierarchy))
        with parallel_dags(model, enabled=False):
            assert all("forward" not in h.__dict__ for h in model.modules() if isinstance(h, Hierarchy))
        with pytest.raises(RuntimeError), parallel_dags(model):
            raise RuntimeError("boom")
        assert all("forward" not in h.__dict__ for h in model.modules() if isinstance(h, Hierarchy))
        assert torch.equal(model(x), ref)


def test_parallel_dags_saved_module_keeps_forks(tmp_path):
    model = _swiftnet(32)
    export_torchscript(model, (3, 32, 32), tmp_path / "par.pt", parallel_dags=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(tmp_path / "par.pt"))
    assert count_forks(loaded) == 9
    assert max_abs_difference(model, loaded, (3, 32, 32)) < TOL


def test_bad_shape_rejected():
    with pytest.raises(ValueError):
        export_torchscript(_swiftnet(32), (32, 32))


# -- ONNX -------------------------------------------------------------------------------------

def test_onnx_matches_eager(case, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    name, model, shape = case
    path = export_onnx(model, shape, tmp_path / "sub" / f"{name}.onnx")
    assert path.exists()
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == "batch"
    # a path, and a session with explicit threads, at two batch sizes (dynamic batch)
    assert max_abs_difference(model, path, shape, batch=2) < TOL
    sess = onnx_session(path, intra_op_threads=1, inter_op_threads=2, parallel=True)
    assert max_abs_difference(model, sess, shape, batch=1, seed=2) < TOL
    assert max_abs_difference(model, sess, shape, batch=3, seed=3) < TOL


def test_onnx_opset(tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    model = _swiftnet(32)
    path = export_onnx(model, (3, 32, 32), tmp_path / "m17.onnx", opset=17)
    proto = onnx.load(str(path))
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {17}
    assert max_abs_difference(model, path, (3, 32, 32)) < TOL


def test_max_abs_difference_detects_a_different_model():
    a, b = _swiftnet(32), _mobilenet(32)
    assert max_abs_difference(a, b, (3, 32, 32)) > TOL
