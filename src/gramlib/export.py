"""Deployment formats: TorchScript and ONNX export, output checks, and concurrent DAGs.

TorchScript (:func:`export_torchscript`) is a ``torch.jit.trace`` of the eval-mode
model with a batch-1 example. :class:`~gramlib.model.DagBlock` walks a Python
dict of feature maps, so it cannot be scripted; tracing records the operations
actually run, which for a fixed architecture is the whole network. The traced
module accepts other batch sizes. TorchScript is deprecated upstream (torch 2.14
warns on every ``torch.jit`` call); the functions here silence those
``FutureWarning``\\ s only while they run.

ONNX (:func:`export_onnx`) uses torch's TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``, opset 20 by default here) with
``dynamic_axes`` for the batch. Why not the default ``dynamo=True`` exporter:
it needs ``onnxscript`` and ``onnx-ir`` on top of ``onnx``, takes 30–40× longer
(5–7 s instead of 0.15 s for a small SwiftNet or MobileNetV2-0.35) and prints
progress lines, for the same graph (same opset, outputs within 1e-7). Both
were checked against onnxruntime with torch 2.14.1; ``dynamo=True`` stays
available as an option for when the legacy exporter is removed.

Concurrent DAGs (the paper's claim of ~2× from multi-threading "because the
three DAGs can be performed concurrently"): inside :func:`parallel_dags`, every
:class:`~gramlib.model.Hierarchy` of the model launches its DAGs with
``torch.jit.fork`` and joins them with ``torch.jit.wait`` *when traced*.
``torch.jit.trace`` records these as ``prim::fork`` / ``aten::wait`` nodes (in
the hierarchy's sub-graph; ``traced.inlined_graph`` or a frozen module shows
them at the top level), and the TorchScript interpreter runs each forked DAG
as a task on torch's inter-op thread pool (``torch.set_num_interop_threads``,
settable once per process before any inter-op work; set ``torch.set_num_threads``
before the first forked run too, since pool threads keep the intra-op count
they started with). In eager mode the DAGs
run one after the other, exactly as by default (eager ``fork`` would run
synchronously anyway). Outside the context manager the model is unchanged:
:mod:`gramlib.model` is not modified, the context manager patches the
``forward`` of the model's ``Hierarchy`` instances and restores them on exit.
ONNX graphs need no forks: onnxruntime's ``ExecutionMode.ORT_PARALLEL`` with
``inter_op_num_threads > 1`` runs independent branches concurrently by itself.
"""

from __future__ import annotations

import types
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from .model import Hierarchy

__all__ = ["export_torchscript", "export_onnx", "max_abs_difference", "parallel_dags", "count_forks",
           "onnx_session"]

#: (C, H, W) of one image.
Shape = tuple[int, int, int]


@contextmanager
def _quiet_jit() -> Iterator[None]:
    """Silence torch 2.14's "torch.jit.* is deprecated" FutureWarnings (only those)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        yield


@contextmanager
def _eval(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _check_shape(input_shape: Shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    return shape  # type: ignore[return-value]


def _example(model: nn.Module, input_shape: Shape, batch: int = 1) -> torch.Tensor:
    p = next(model.parameters(), None)
    dtype, device = (p.dtype, p.device) if p is not None else (torch.float32, torch.device("cpu"))
    return torch.zeros((batch, *_check_shape(input_shape)), dtype=dtype, device=device)


# -- concurrent DAGs ---------------------------------------------------------------------------

def _forked_forward(self: Hierarchy, x: torch.Tensor) -> torch.Tensor:
    if torch.jit.is_tracing():
        futures = [torch.jit.fork(dag, x) for dag in self.dags]
        return torch.cat([torch.jit.wait(f) for f in futures], dim=1)
    return torch.cat([dag(x) for dag in self.dags], dim=1)


@contextmanager
def parallel_dags(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Within the block, a trace of ``model`` runs each hierarchy's DAGs as concurrent inter-op tasks.

    Every :class:`~gramlib.model.Hierarchy` in ``model`` (at any depth, so a
    wrapped SwiftNet works too) gets a ``forward`` that, while being traced,
    forks one task per DAG and waits for all before concatenating. Eager calls
    inside the block compute the same thing sequentially. The original
    ``forward`` is restored on exit, also on error. A module traced inside the
    block keeps its forks after the block ends (and after save/load).

    Example::

        with parallel_dags(model):
            traced = torch.jit.trace(model.eval(), x)

    Args:
        model: any module; modules without hierarchies are left as they are.
        enabled: False makes this a no-op (handy for ``with parallel_dags(m, flag):``).
    """
    patched: list[Hierarchy] = []
    try:
        if enabled:
            for m in model.modules():
                if isinstance(m, Hierarchy) and "forward" not in m.__dict__:
                    m.forward = types.MethodType(_forked_forward, m)  # type: ignore[method-assign]
                    patched.append(m)
        yield model
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)


_parallel = parallel_dags  # export_torchscript's keyword argument of the same name shadows it


def count_forks(module: torch.jit.ScriptModule) -> int:
    """Number of ``prim::fork`` nodes in a TorchScript module (sub-modules' graphs included)."""
    graph = module.inlined_graph

    def count(block: Any) -> int:
        n = 0
        for node in block.nodes():
            if node.kind() == "prim::fork":
                n += 1
            for b in node.blocks():
                n += count(b)
        return n

    return count(graph)


# -- TorchScript ------------------------------------------------------------------------------

def export_torchscript(model: nn.Module, input_shape: Shape, path: str | Path | None = None, *,
                       parallel_dags: bool = False, freeze: bool = False,
                       check_trace: bool = True) -> torch.jit.ScriptModule:
    """Trace ``model`` in eval mode with a (1, C, H, W) example; save it to ``path`` if given.

    Args:
        model: the model (its train/eval mode is restored afterwards).
        input_shape: (C, H, W).
        path: where to ``torch.jit.save`` the module (parent folders are created).
        parallel_dags: trace under :func:`parallel_dags`: each hierarchy's DAGs
            become ``prim::fork`` tasks, run concurrently on the inter-op pool.
        freeze: ``torch.jit.freeze`` the result (weights inlined as constants,
            BatchNorm folded into the convolutions; forks are kept). A frozen
            module has no ``parameters()``, so
            :func:`gramlib.profiling.measure_latency` cannot time it.
        check_trace: let ``torch.jit.trace`` re-run and compare the trace.

    Returns:
        The traced (optionally frozen) module, in eval mode.
    """
    example = _example(model, input_shape)
    with _eval(model), _quiet_jit(), torch.no_grad(), _parallel(model, parallel_dags):
        traced = torch.jit.trace(model, example, check_trace=check_trace)
        traced.eval()
        if freeze:
            traced = torch.jit.freeze(traced)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _quiet_jit():
            torch.jit.save(traced, str(path))
    return traced


# -- ONNX -------------------------------------------------------------------------------------

def export_onnx(model: nn.Module, input_shape: Shape, path: str | Path, *, opset: int | None = None,
                dynamo: bool = False, input_name: str = "input", output_name: str = "logits") -> Path:
    """Export ``model`` (eval mode) to an ONNX file whose batch dimension is dynamic.

    Uses the TorchScript-based exporter (``dynamo=False``): no dependency
    beyond torch, fast, and numerically identical here (see the module
    docstring). ``dynamo=True`` uses the ``torch.export`` exporter instead and
    needs the ``onnxscript`` package. Weights are stored inside the file.

    Args:
        model: the model (its train/eval mode is restored afterwards).
        input_shape: (C, H, W) of the example input (the batch is dynamic).
        path: the ``.onnx`` file to write (parent folders are created).
        opset: ONNX opset version (None: torch's default, 20 for torch 2.14).
        dynamo: use the ``torch.export``-based exporter.
        input_name, output_name: graph input and output names.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = _example(model, input_shape)
    kwargs: dict[str, Any] = {"input_names": [input_name], "output_names": [output_name],
                              "opset_version": opset}
    if dynamo:
        try:
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ImportError("export_onnx(dynamo=True) needs the 'onnxscript' package; "
                              "the default dynamo=False does not") from e
        kwargs.update(dynamo=True, external_data=False, verbose=False,
                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    else:
        kwargs.update(dynamo=False, dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
    with _eval(model), torch.no_grad(), warnings.catch_warnings():
        # the legacy exporter announces its own deprecation on every call
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message=r"The feature will be removed")
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        torch.onnx.export(model, (example,), str(path), **kwargs)
    return path


def onnx_session(path: str | Path, *, intra_op_threads: int | None = None, inter_op_threads: int | None = None,
                 parallel: bool = False) -> Any:
    """An onnxruntime CPU ``InferenceSession`` for ``path``.

    Args:
        intra_op_threads: ``SessionOptions.intra_op_num_threads`` (None: onnxruntime's default).
        inter_op_threads: ``SessionOptions.inter_op_num_threads`` (used in parallel mode).
        parallel: ``ExecutionMode.ORT_PARALLEL``: independent branches (the DAGs of
            a hierarchy) run concurrently on the inter-op threads.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    if intra_op_threads is not None:
        so.intra_op_num_threads = int(intra_op_threads)
    if inter_op_threads is not None:
        so.inter_op_num_threads = int(inter_op_threads)
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


# -- checks -----------------------------------------------------------------------------------

def max_abs_difference(model: nn.Module, exported: Any, input_shape: Shape, *, batch: int = 2,
                       seed: int = 0) -> float:
    """Largest absolute difference between eager ``model`` and ``exported`` on seeded random inputs.

    Args:
        model: the eager reference (run in eval mode, then restored).
        exported: a TorchScript module (or any callable module), an onnxruntime
            ``InferenceSession``, or the path of an ``.onnx`` file.
        input_shape: (C, H, W).
        batch: images per input (> 1 also checks the dynamic batch dimension).
        seed: seed of the standard-normal input.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    shape = _check_shape(input_shape)
    x = torch.randn((batch, *shape), generator=torch.Generator().manual_seed(seed))
    ref_example = _example(model, shape)
    x = x.to(dtype=ref_example.dtype, device=ref_example.device)
    with _eval(model), torch.no_grad():
        ref = model(x)
    if isinstance(exported, (str, Path)):
        exported = onnx_session(exported)
    if hasattr(exported, "get_inputs") and hasattr(exported, "run"):  # onnxruntime session
        name = exported.get_inputs()[0].name
        out = torch.from_numpy(exported.run(None, {name: x.detach().cpu().numpy()})[0])
        ref = ref.cpu()
    else:
        with torch.no_grad(), _quiet_jit():
            out = exported(x)
    if out.shape != ref.shape:
        raise ValueError(f"output shapes differ: eager {tuple(ref.shape)}, exported {tuple(out.shape)}")
    return float((out.to(ref.dtype) - ref).abs().max())
