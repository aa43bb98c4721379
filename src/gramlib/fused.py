"""Fused BatchNorm + ELU for training on the CPU (a C++ kernel compiled on first use).

A small SwiftNet is ~36 conv–BN–ELU nodes of 32 channels. Eager PyTorch runs
BatchNorm and ELU as separate kernels, about 8 passes over each feature map
forward and 8 backward; at 3 M MACs those passes cost as much as the
convolutions and held the model's training speed at ~45 % of a plain CNN of
equal MACs. ``csrc/bn_elu.cpp`` does the same arithmetic in 2 passes forward
(statistics; normalise + ELU) and 2 backward (README "Speed" has the figures).

:class:`~gramlib.model.ConvBNAct` calls :func:`bn_elu`, which returns ``None``
(and the caller runs ``ELU(BatchNorm(x))``) wherever the kernel does not apply:
evaluation mode, a GPU, a dtype other than float32, tracing/export/compile, or
when it is switched off. Results agree with the eager modules within float
rounding (``tests/test_fused.py``), so checkpoints and exports are unchanged.

Switch: the environment variable ``GRAMLIB_FUSED_BN_ELU`` = ``auto`` (default:
use the kernel when it compiles, warn once and fall back when it does not),
``off`` (never), ``on`` (require it: a failed build raises); or
:func:`use_fused` as a context manager in code. The build (about 40–60 s on
2 cores, once per environment and torch version) needs a C++ compiler and ninja;
it is cached inside the Python environment (:func:`build_directory`), or in
``TORCH_EXTENSIONS_DIR`` when that is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from pathlib import Path

import torch
from torch import nn

SOURCE = Path(__file__).with_name("csrc") / "bn_elu.cpp"
MODES = ("auto", "on", "off")

_ext = None
_failed: str | None = None
_lock = threading.Lock()
_override: bool | None = None
_warned = False  # the fallback warning is given once per process


def mode() -> str:
    """The switch: :func:`use_fused` if active, else ``GRAMLIB_FUSED_BN_ELU`` (auto / on / off)."""
    if _override is not None:
        return "on" if _override else "off"
    value = os.environ.get("GRAMLIB_FUSED_BN_ELU", "auto").strip().lower()
    if value not in MODES:
        raise ValueError(f"GRAMLIB_FUSED_BN_ELU={value!r}: expected one of {', '.join(MODES)}")
    return value


@contextlib.contextmanager
def use_fused(enabled: bool):
    """Turn the fused kernel on (required) or off inside a ``with`` block (benchmarks compare both)."""
    global _override
    before, _override = _override, bool(enabled)
    try:
        yield
    finally:
        _override = before


def _compile_flags() -> list[str]:
    flags = ["-O3", "-fopenmp"]  # -fopenmp: at::parallel_for is OpenMP in torch's CPU builds (one thread without it)
    capability = torch.backends.cpu.get_cpu_capability()  # the SIMD width ATen's own kernels use on this machine
    if capability in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma", "-mf16c", f"-DCPU_CAPABILITY_{capability}", f"-DCPU_CAPABILITY={capability}"]
        if capability == "AVX512":
            flags += ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"]
    return flags


def build_directory(name: str) -> str | None:
    """Where the kernel ``name`` is built and cached: a folder inside this Python environment (``sys.prefix``).

    Two environments on one machine (a CI clone's venv beside a working copy's) compile against different torch
    include paths; in torch's one shared folder (``~/.cache/torch_extensions``) each rebuilt the other's kernel
    on first use, about a minute each time. ``None`` (torch's own folder) when ``TORCH_EXTENSIONS_DIR`` is set,
    which the user chose, or when the environment cannot be written to.
    """
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return None
    folder = Path(sys.prefix) / "share" / "gramlib" / "torch_extensions" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return str(folder) if os.access(folder, os.W_OK) else None


def _built(cpp_extension, name: str, folder: str | None) -> bool:
    try:  # torch's own cache folder for `name` unless ours (a private helper: if it moves, we only print once too often)
        return any(Path(folder or cpp_extension._get_build_directory(name, False)).glob(f"{name}*.so"))
    except Exception:
        return False


def extension():
    """The compiled kernel module (built on first call, then cached), or ``None`` if it cannot be built."""
    global _ext, _failed
    if _ext is not None or _failed is not None:
        return _ext
    with _lock:
        if _ext is None and _failed is None:
            name = f"gramlib_bn_elu_{torch.backends.cpu.get_cpu_capability().lower()}"
            quiet = logging.getLogger("torch.utils.cpp_extension")
            level = quiet.level
            quiet.setLevel(logging.ERROR)  # its import logs "No CUDA runtime is found" on every CPU machine
            try:
                from torch.utils import cpp_extension

                folder = build_directory(name)
                if not _built(cpp_extension, name, folder):  # say why the first training pauses; silent once cached
                    print("gramlib: building the fused BatchNorm+ELU CPU kernel (once per environment, about a minute)",
                          file=sys.stderr, flush=True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _ext = cpp_extension.load(name, [str(SOURCE)], extra_cflags=_compile_flags(),
                                              extra_ldflags=["-fopenmp"], build_directory=folder, verbose=False)
            except Exception as e:  # no compiler, no ninja, ...: the eager modules still work
                _failed = f"{type(e).__name__}: {e}"
            finally:
                quiet.setLevel(level)
    return _ext


def _applies(bn: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    return (bn.training and bn.track_running_stats and bn.affine and bn.running_mean is not None
            and x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
            and x.numel() > x.shape[1]  # BatchNorm's own error (one value per channel) comes from the eager path
            and (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last))
            and not torch.jit.is_tracing() and not torch.jit.is_scripting() and not torch.compiler.is_compiling()
            and not torch.onnx.is_in_onnx_export())


class _BNELUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum: float, eps: float, ext):
        y, mean, rstd = ext.forward(x, weight.detach(), bias.detach(), running_mean, running_var, momentum, eps)
        ctx.ext = ext
        ctx.save_for_backward(x, y, mean, rstd, weight)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, y, mean, rstd, weight = ctx.saved_tensors
        dx, dweight, dbias = ctx.ext.backward(grad_y, x, y, mean, rstd, weight.detach())
        return dx, dweight, dbias, None, None, None, None, None


def bn_elu(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor | None:
    """``ELU(bn(x))`` by the fused kernel, with ``bn``'s running statistics updated as BatchNorm does;
    ``None`` where the kernel does not apply (the caller then runs the eager modules)."""
    m = mode()
    if m == "off" or not _applies(bn, x):
        return None
    ext = extension()
    if ext is None:
        if m == "on":
            raise RuntimeError(f"GRAMLIB_FUSED_BN_ELU=on but the fused kernel could not be built: {_failed}")
        global _warned
        if not _warned:
            _warned = True
            warnings.warn(f"gramlib: fused BatchNorm+ELU kernel unavailable ({_failed}); using eager BatchNorm + ELU",
                          RuntimeWarning, stacklevel=2)
        return None
    bn.num_batches_tracked.add_(1)
    # BatchNorm's rule: momentum None means a cumulative average over the batches seen
    momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    return _BNELUFunction.apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, float(momentum),
                                float(bn.eps), ext)


def status() -> str:
    """Build (or find) the kernel now and say which: ``make setup`` calls this, so the first run does not pause."""
    if extension() is None:
        return f"gramlib: fused BatchNorm+ELU kernel unavailable, training uses eager BatchNorm + ELU ({_failed})"
    return f"gramlib: fused BatchNorm+ELU kernel ready ({torch.backends.cpu.get_cpu_capability()})"
