"""Command line: ``gramlib search`` runs (or resumes) a search; ``gramlib prune`` writes a pruned architecture."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import torch


def _search(args: argparse.Namespace) -> int:
    from .io import atomic_write_json
    from .profiles import get_profile
    from .search import search

    overrides = {k: v for k, v in {"iterations": args.iterations, "dataset": args.dataset, "seed": args.seed,
                                   "mode": args.mode, "device": args.device, "workers": args.workers,
                                   "executor": args.executor, "ray_address": args.ray_address,
                                   "cpus_per_candidate": args.cpus_per_candidate,
                                   "gpus_per_candidate": args.gpus_per_candidate, "latency": args.latency,
                                   "latency_table": args.latency_table}.items() if v is not None}
    if args.unordered:
        overrides["ordered"] = False
    p = get_profile(args.profile, search=overrides)
    t = time.perf_counter()
    mg = search(p.space, p.rule, p.search, args.out, stop_after=args.stop_after, progress=not args.quiet)
    atomic_write_json(Path(args.out) / "run.json", {
        "profile": p.name, "iteration": mg.iteration, "seconds_this_call": time.perf_counter() - t,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
        "processor": platform.processor(), "cuda": torch.cuda.is_available()})
    print(mg)
    return 0


def _prune(args: argparse.Namespace) -> int:
    from .metagraph import MetaGraph
    from .model import build_model
    from .profiling import count_cost

    mg = MetaGraph.load(args.metagraph)
    arch = mg.prune(args.level, reference=args.reference)
    if args.scale != 1.0:
        arch = arch.scale_channels(args.scale)
    arch.save(args.out)
    cost = count_cost(build_model(arch, input_size=args.input_size), (3, args.input_size, args.input_size))
    print(json.dumps({"edges": arch.num_edges, "active_nodes": arch.num_active_nodes,
                      "mmacs": round(cost.mmacs, 3), "params": cost.params}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gramlib", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("search", help="run or resume a meta-graph search")
    s.add_argument("--profile", default="cpu", help="paper | cpu | smoke")
    s.add_argument("--out", required=True, help="output folder (resumed if it holds the same run)")
    s.add_argument("--latency", choices=["measured", "table"],
                   help="candidate latency: timed (not reproducible) or from a per-operation table measured once "
                        "per machine (default: the profile's)")
    s.add_argument("--latency-table", help="the table's file (measured there if missing)")
    s.add_argument("--iterations", type=int)
    s.add_argument("--dataset")
    s.add_argument("--seed", type=int)
    s.add_argument("--mode", choices=["gram", "random"])
    s.add_argument("--device")
    s.add_argument("--stop-after", type=int, help="run at most this many iterations now")
    s.add_argument("--workers", type=int, help="candidates in flight (default 1: Algorithm 1 as published)")
    s.add_argument("--executor", choices=["local", "ray"], help="where candidates run (ray: the distributed extra)")
    s.add_argument("--ray-address", help="a running Ray cluster, e.g. auto (default: start a local Ray, or RAY_ADDRESS)")
    s.add_argument("--cpus-per-candidate", type=float, help="Ray resource request of one candidate (default 1)")
    s.add_argument("--gpus-per-candidate", type=float, help="Ray resource request of one candidate (default 0)")
    s.add_argument("--unordered", action="store_true",
                   help="apply results as they finish (faster on uneven workers; the order then depends on timing)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_search)
    p = sub.add_parser("prune", help="structure-level pruning of a saved meta-graph")
    p.add_argument("--metagraph", required=True)
    p.add_argument("--level", type=float, required=True)
    p.add_argument("--reference", default="absolute", choices=["absolute", "row_max"])
    p.add_argument("--scale", type=float, default=1.0, help="channel up-scaling factor")
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_prune)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, RuntimeError) as e:
        print(f"gramlib: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
