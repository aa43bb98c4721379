"""Batch-1 CPU latency per deployment backend: eager, TorchScript, TorchScript with concurrent DAGs, onnxruntime.

Prints figures (it is not a test): one JSON line per (model, backend, threads).

Models: SwiftNets pruned at levels 0.3 / 0.5 / 0.65 from the CPU-profile
meta-graph (``--metagraph``; by default the first existing of
``results/search/cpu/metagraph.json`` and ``results/cpu/search_run/metagraph.json``,
else a fresh, untrained ``MetaGraph(get_profile("cpu").space)``, whose uniform
weights prune to the same complete DAGs at every level: duplicates are measured
once), at 32×32; torchvision MobileNetV2-0.35 at 96×96 and its small-input
variant at 32×32.

Backends (``threads`` = compute threads that may run at once):

* ``eager``: the PyTorch module, ``torch.set_num_threads(threads)``.
* ``torchscript``: :func:`gramlib.export.export_torchscript` (traced, frozen).
* ``torchscript-par``: the same traced under :func:`gramlib.export.parallel_dags`
  (a ``prim::fork`` per DAG), run with ``torch.set_num_interop_threads(2)`` at 1
  intra-op thread (threads=2) and 2 intra-op threads (threads=4: oversubscribed
  on a 2-core machine). SwiftNets only.

  Each (inter-op, intra-op) setting runs in its own subprocess, set before any
  work: the inter-op count can be set only once per process, and inter-op pool
  threads keep the intra-op count they started with. Eager and TorchScript run
  with 1 inter-op thread.
* ``onnxruntime``: :func:`gramlib.export.export_onnx`, ``intra_op_num_threads``;
  ``onnxruntime-par``: ``ExecutionMode.ORT_PARALLEL`` with 1 intra-op and 2 inter-op threads.

Timing: ``--warmup`` untimed runs, then the median (and 10th/90th percentiles)
of ``--runs`` timed runs on a zero input. On a shared machine, figures are indicative.

    python benchmarks/latency.py                      # ~2-3 minutes on 2 cores
    python benchmarks/latency.py --runs 300 --metagraph results/cpu/search_run/metagraph.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_METAGRAPHS = ("results/search/cpu/metagraph.json", "results/cpu/search_run/metagraph.json")
LEVELS = (0.3, 0.5, 0.65)


def _timings(fn: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=10)
    return {"median_ms": round(statistics.median(times), 3), "p10_ms": round(q[0], 3), "p90_ms": round(q[-1], 3)}


# -- planning (parent process) -----------------------------------------------------------------

def plan_models(metagraph: str | None) -> tuple[list[dict[str, Any]], str]:
    from gramlib.metagraph import MetaGraph
    from gramlib.profiles import get_profile

    path = metagraph or next((p for p in DEFAULT_METAGRAPHS if (ROOT / p).exists()), None)
    if path is not None:
        mg = MetaGraph.load(ROOT / path if not Path(path).is_absolute() else path)
        source = f"{path} (iteration {mg.iteration})"
    else:
        mg = MetaGraph(get_profile("cpu").space, seed=0)
        source = "fresh MetaGraph(get_profile('cpu').space, seed=0) (untrained)"
    models: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for lv in LEVELS:
        arch = mg.prune(lv).to_json()
        name = f"swiftnet-{lv}"
        if arch in seen:
            print(f"# {name}: same architecture as {seen[arch]}, not measured again", file=sys.stderr)
            continue
        seen[arch] = name
        models.append({"name": name, "kind": "swiftnet", "arch": arch, "size": 32})
    models.append({"name": "mobilenetv2-0.35", "kind": "mobilenet", "width": 0.35, "small": False, "size": 96})
    models.append({"name": "mobilenetv2-0.35-small", "kind": "mobilenet", "width": 0.35, "small": True, "size": 32})
    from gramlib.profiling import count_macs

    for spec in models:
        spec["mmacs"] = round(count_macs(_build(spec), (3, spec["size"], spec["size"])) / 1e6, 2)
    return models, source


# -- measuring (worker subprocesses) -----------------------------------------------------------

def _build(spec: dict[str, Any]):
    import torch

    from gramlib.architecture import Architecture
    from gramlib.experiments import mobilenet_v2
    from gramlib.model import build_model

    torch.manual_seed(0)
    if spec["kind"] == "swiftnet":
        model = build_model(Architecture.from_json(spec["arch"]), 10, 3, input_size=spec["size"])
    else:
        model = mobilenet_v2(spec["width"], 10, small_input=spec["small"])
    return model.eval()


def worker(specs: list[dict[str, Any]], interop: int, intra: int, runs: int, warmup: int) -> None:
    """Measure every backend that runs at this (inter-op, intra-op) setting, set once before any work.

    Inter-op pool threads keep the intra-op thread count they started with, so
    changing ``torch.set_num_threads`` later in the process would not reach the
    forked DAGs: hence one process per setting.
    """
    import torch

    torch.set_num_interop_threads(interop)
    torch.set_num_threads(intra)
    warnings.simplefilter("ignore")
    from gramlib.export import export_onnx, export_torchscript, onnx_session

    def emit(spec, backend, intra_op, inter_op, t):
        row = {"model": spec["name"], "input": spec["size"], "mmacs": spec["mmacs"], "backend": backend,
               "threads": intra_op * inter_op, "intra_op": intra_op, "inter_op": inter_op, **t, "runs": runs}
        print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            model = _build(spec)
            shape = (3, spec["size"], spec["size"])
            x = torch.zeros(1, *shape)
            if interop == 1:
                ts = export_torchscript(model, shape, freeze=True)
                with torch.inference_mode():
                    emit(spec, "eager", intra, 1, _timings(lambda: model(x), runs, warmup))
                    emit(spec, "torchscript", intra, 1, _timings(lambda: ts(x), runs, warmup))
            elif spec["kind"] == "swiftnet":  # forks only exist in SwiftNets
                ts_par = export_torchscript(model, shape, parallel_dags=True, freeze=True)
                with torch.inference_mode():
                    emit(spec, "torchscript-par", intra, interop, _timings(lambda: ts_par(x), runs, warmup))
            if interop == 1 and intra == 1:  # onnxruntime manages its own threads
                onnx_path = export_onnx(model, shape, Path(tmp) / f"{spec['name']}.onnx")
                xn = x.numpy()
                for o_intra, o_inter, par in ((1, 1, False), (2, 1, False), (1, 2, True)):
                    sess = onnx_session(onnx_path, intra_op_threads=o_intra, inter_op_threads=o_inter, parallel=par)
                    name = sess.get_inputs()[0].name
                    emit(spec, "onnxruntime-par" if par else "onnxruntime", o_intra, o_inter,
                         _timings(lambda: sess.run(None, {name: xn}), runs, warmup))
                    del sess
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: inter-op pool threads have aborted it ("terminate called ...")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--metagraph", default=None, help="meta-graph JSON to prune (default: see above)")
    ap.add_argument("--worker", type=int, nargs=2, default=None, help=argparse.SUPPRESS)  # inter-op, intra-op
    ap.add_argument("--specs", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.runs < 10 or args.warmup < 0:
        ap.error("--runs must be >= 10 and --warmup >= 0")
    if args.worker is not None:
        worker(json.loads(Path(args.specs).read_text()), *args.worker, args.runs, args.warmup)
        return
    import platform

    import onnxruntime
    import torch

    specs, source = plan_models(args.metagraph)
    print(json.dumps({"meta": True, "metagraph": source, "torch": torch.__version__,
                      "onnxruntime": onnxruntime.__version__, "cpus": os.cpu_count(),
                      "loadavg_1min": round(os.getloadavg()[0], 2), "machine": platform.machine(),
                      "runs": args.runs, "warmup": args.warmup}), flush=True)
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(specs, f)
    try:
        for interop, intra in ((1, 1), (1, 2), (2, 1), (2, 2)):
            cmd = [sys.executable, __file__, "--worker", str(interop), str(intra), "--specs", f.name,
                   "--runs", str(args.runs), "--warmup", str(args.warmup)]
            res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            sys.stdout.write(res.stdout)
            sys.stdout.flush()
            if res.returncode != 0:
                print(f"# worker (inter-op {interop}, intra-op {intra}) exited with {res.returncode}", file=sys.stderr)
    finally:
        os.unlink(f.name)
    print(json.dumps({"meta": True, "seconds": round(time.perf_counter() - t0, 1),
                      "loadavg_1min": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
