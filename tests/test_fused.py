"""The fused BatchNorm + ELU kernel (gramlib.fused) against the eager modules it replaces in training."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from gramlib import fused
from gramlib.metagraph import MetaGraph
from gramlib.model import ConvBNAct, ELU, build_model
from gramlib.space import SearchSpace

pytestmark = pytest.mark.skipif(fused.extension() is None, reason=f"fused kernel not built: {fused._failed}")


def _bn(channels: int, momentum=0.1) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, momentum=momentum)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-1, 1)
    return bn


def _run(bn, x, g, use):
    x = x.detach().clone().requires_grad_()
    with fused.use_fused(use):
        y = fused.bn_elu(bn, x) if use else nn.functional.elu(bn(x))
    assert y is not None
    y.backward(g)
    return y, x.grad, bn.weight.grad, bn.bias.grad


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("shape", [(16, 32, 8, 8), (7, 5, 3, 3), (3, 40, 1, 1), (256, 32, 2, 2),
                                   (16, 24, 4, 4), (8, 48, 4, 4)])  # 24 and 48: Table 1's x0.75 and x1.5 channels
@pytest.mark.parametrize("momentum", [0.1, None])
def test_matches_batchnorm_then_elu(layout, shape, momentum):
    """Output, input/weight/bias gradients and running statistics equal BatchNorm2d + ELU within float rounding,
    in both layouts, for channel counts and pixel counts that fill no whole tile (5 channels, 63 pixels)."""
    torch.manual_seed(0)
    x = (torch.randn(shape) * 3 + 1).contiguous(memory_format=layout)
    g = torch.randn(shape).contiguous(memory_format=layout)
    ref_bn = _bn(shape[1], momentum)
    bn = copy.deepcopy(ref_bn)
    for _ in range(2):  # twice: the running statistics and the cumulative (momentum None) rule advance alike
        ref_bn.zero_grad(), bn.zero_grad()
        ref = _run(ref_bn, x, g, use=False)
        out = _run(bn, x, g, use=True)
    assert out[0].is_contiguous(memory_format=layout) and out[1].is_contiguous(memory_format=layout)
    scale = shape[0] * shape[2] * shape[3]  # weight/bias gradients are sums over this many values
    for a, b, tol in zip(out, ref, (1e-5, 1e-5, 1e-6 * scale, 1e-6 * scale)):
        torch.testing.assert_close(a, b, atol=tol, rtol=1e-4)
    torch.testing.assert_close(bn.running_mean, ref_bn.running_mean, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(bn.running_var, ref_bn.running_var, atol=1e-6, rtol=1e-5)
    assert int(bn.num_batches_tracked) == int(ref_bn.num_batches_tracked) == 2


def test_gradcheck_in_double_precision_of_the_formula():
    """The backward formula is the derivative of the forward: finite differences of the fused forward (float32,
    so loose tolerances) agree with its analytic gradient."""
    torch.manual_seed(1)
    x = torch.randn(4, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    bn = _bn(3)
    g = torch.randn_like(x)
    xg = x.clone().requires_grad_()
    with fused.use_fused(True):
        (fused.bn_elu(bn, xg) * g).sum().backward()
        eps = 1e-2
        for idx in [(0, 0, 0, 0), (1, 2, 1, 0), (3, 1, 1, 1)]:
            xp, xm = x.clone(), x.clone()
            xp[idx] += eps
            xm[idx] -= eps
            fp = (fused.bn_elu(bn, xp) * g).sum()
            fm = (fused.bn_elu(bn, xm) * g).sum()
            assert abs((fp - fm).item() / (2 * eps) - xg.grad[idx].item()) < 2e-2


@pytest.mark.parametrize("shape", [(8, 4, 3, 3), (16, 32, 8, 8), (16, 24, 8, 8)])
def test_nan_propagates(shape):
    """A diverged activation stays NaN (the NaN-candidate handling of the search relies on seeing it), in the
    vectorised path too (a fast exp maps NaN to inf there)."""
    x = torch.randn(shape).contiguous(memory_format=torch.channels_last)
    x[0, 1, 0, 0] = float("nan")
    with fused.use_fused(True):
        y = fused.bn_elu(_bn(shape[1]), x)
    assert torch.isnan(y[:, 1]).all() and not torch.isnan(y[:, 0]).any()


def test_falls_back_where_it_does_not_apply():
    bn = _bn(4)
    x = torch.randn(2, 4, 3, 3)
    with fused.use_fused(True):
        assert fused.bn_elu(bn.eval(), x) is None            # evaluation: running statistics, eager path
        assert fused.bn_elu(bn.train(), x.double()) is None  # float64
        assert fused.bn_elu(bn, x[:, :, :, :2]) is None      # a strided view
        assert fused.bn_elu(bn, torch.randn(1, 4, 1, 1)) is None  # BatchNorm's own error comes from the eager path
    with fused.use_fused(False):
        assert fused.bn_elu(bn, x) is None


def test_kernel_rejects_bad_input_with_a_clear_error():
    ext = fused.extension()
    c = torch.zeros(4)
    with pytest.raises(RuntimeError, match="float32 CPU tensor"):
        ext.forward(torch.zeros(2, 4, 3, 3, dtype=torch.float64), c, c, c.clone(), c.clone(), 0.1, 1e-5)


def test_bad_switch_value_is_an_error(monkeypatch):
    monkeypatch.setenv("GRAMLIB_FUSED_BN_ELU", "maybe")
    with pytest.raises(ValueError, match="auto, on, off"):
        fused.mode()


def test_switch_off_in_a_fresh_process_never_builds_it():
    code = ("import torch; from gramlib import fused; from gramlib.model import ConvBNAct; "
            "m = ConvBNAct(3, 4, 3); m(torch.randn(2, 3, 5, 5)).sum().backward(); print(fused._ext is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "GRAMLIB_FUSED_BN_ELU": "off"})
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_swiftnet_training_step_matches_eager(layout):
    """A whole SwiftNet (fan-out, concatenation, pooling) in training mode: loss, every parameter gradient and
    every running statistic agree with the eager modules; evaluation afterwards is the eager path itself.

    The max-pools are swapped for average pools: a max-pool routes its gradient to the arg-max, and saturated
    ELU outputs (all near -1) tie, so activations that differ in the 6th digit move whole gradient entries
    (1 % of a layer's gradient norm here, with the kernel exact to rounding; 0.02 % with average pools)."""
    arch = MetaGraph(SearchSpace(nodes=5), seed=3).sample()
    torch.manual_seed(0)
    model = build_model(arch, 10, 3).to(memory_format=layout)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(module, name, nn.AvgPool2d(2, 2, ceil_mode=True))
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    twin = copy.deepcopy(model)
    x = torch.randn(8, 3, 32, 32).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (8,))
    losses = {}
    for name, m, use in (("eager", model, False), ("fused", twin, True)):
        with fused.use_fused(use):
            loss = nn.functional.cross_entropy(m.train()(x), y)
            loss.backward()
        losses[name] = loss.item()
    assert losses["fused"] == pytest.approx(losses["eager"], rel=1e-5)
    n_bn = 0
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        assert (b.grad - a.grad).norm() <= 2e-3 * a.grad.norm() + 1e-7, name
    for a, b in zip(model.modules(), twin.modules()):
        if isinstance(a, nn.BatchNorm2d):
            n_bn += 1
            torch.testing.assert_close(b.running_var, a.running_var, atol=1e-5, rtol=1e-4)
    assert n_bn > 3
    with torch.no_grad():
        torch.testing.assert_close(twin.eval()(x), model.eval()(x), atol=1e-4, rtol=1e-4)


def test_convbnact_keeps_its_modules_and_state_dict_keys():
    block = ConvBNAct(3, 8, 3)
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, ELU]
    assert set(block.state_dict()) == {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                       "1.num_batches_tracked"}


def test_a_failed_build_falls_back_with_one_warning_or_raises_when_required(monkeypatch):
    monkeypatch.setattr(fused, "_ext", None)
    monkeypatch.setattr(fused, "_failed", "RuntimeError: Ninja is required to load C++ extensions")
    monkeypatch.setattr(fused, "_warned", False)
    x = torch.randn(4, 3, 2, 2)
    with pytest.warns(RuntimeWarning, match="Ninja is required"):
        assert fused.bn_elu(_bn(3), x) is None
    block = ConvBNAct(3, 3, 1)
    block(x).sum().backward()  # the eager modules still train
    with fused.use_fused(True), pytest.raises(RuntimeError, match="could not be built"):
        fused.bn_elu(_bn(3), x)


def test_search_candidates_train_unfused_unless_the_config_asks(monkeypatch):
    """The committed searches were made with eager BatchNorm + ELU and a search's path is chaotic in its rewards,
    so SearchConfig.fused_bn_elu (default False) decides, and a default search is the computation it always was."""
    from dataclasses import replace

    from conftest import synthetic_proxy
    from gramlib.profiles import get_profile
    from gramlib.search import SearchConfig, run_name, score_candidate

    calls = []
    real = fused._BNELUFunction.apply
    monkeypatch.setattr(fused._BNELUFunction, "apply", lambda *a: calls.append(1) or real(*a))
    prof = get_profile("smoke")
    arch = MetaGraph(prof.space, seed=0).sample()
    proxy = synthetic_proxy()
    config = replace(prof.search, latency="table", iterations=1)
    assert SearchConfig().fused_bn_elu is False
    score_candidate(arch, proxy, config, seed=0, table=None)
    assert calls == []
    score_candidate(arch, proxy, replace(config, fused_bn_elu=True), seed=0, table=None)
    assert calls
    # part of a search's identity: a fused search gets a folder of its own (the default, left out of the
    # name like every default, keeps the committed folders' names)
    assert run_name(prof.space, prof.rule, config) != run_name(prof.space, prof.rule, replace(config, fused_bn_elu=True))


def test_status_says_whether_setup_built_the_kernel(monkeypatch):
    monkeypatch.setattr(fused, "_ext", None)
    monkeypatch.setattr(fused, "_failed", "RuntimeError: Ninja is required to load C++ extensions")
    assert "unavailable" in fused.status() and "Ninja is required" in fused.status()
    monkeypatch.setattr(fused, "_failed", None)
    monkeypatch.setattr(fused, "extension", lambda: object())
    assert "ready" in fused.status()


def test_each_environment_builds_its_own_kernel(monkeypatch, tmp_path):
    """Two venvs on one machine (CI's clone beside a working copy) compile against their own torch include paths;
    sharing torch's ~/.cache folder, each rebuilt the other's kernel. The build lives inside sys.prefix instead."""
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    built = Path(fused.extension().__file__).parent
    assert built.is_relative_to(Path(sys.prefix)) and built == Path(fused.build_directory(built.name))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert Path(fused.build_directory("k")) == tmp_path / "share" / "gramlib" / "torch_extensions" / "k"
    assert (tmp_path / "share" / "gramlib" / "torch_extensions" / "k").is_dir()
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "mine"))
    assert fused.build_directory("k") is None  # the user's choice: torch's own rule applies
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR")
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "file"))  # an environment we cannot write into
    assert fused.build_directory("k") is None
