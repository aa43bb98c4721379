"""Search speed per profile: seconds per iteration split by phase, candidate MACs, training throughput.

Prints figures (it is not a test). Also compares, on the same candidates, one
process with 2 threads against two single-threaded worker processes.

    python benchmarks/search_speed.py --profiles smoke cpu --iterations 20
    python benchmarks/search_speed.py --profiles paper --iterations 1     # minutes per iteration on a CPU
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time

import torch

from gramlib.data import load_split, make_proxy
from gramlib.metagraph import MetaGraph
from gramlib.profiles import get_profile
from gramlib.search import SearchConfig, candidate_seed, score_candidate

PHASES = ("sample", "build", "train", "eval", "latency", "update")


def bench_profile(name: str, iterations: int, threads: int) -> dict:
    p = get_profile(name)
    torch.set_num_threads(threads)
    data = load_split(p.search.dataset, "train", mirror=p.search.mirror, root=p.search.data_root)
    proxy = make_proxy(data, p.search.proxy_train, p.search.proxy_val, per_class=p.search.per_class, seed=0)
    mg = MetaGraph(p.space, p.rule, seed=0)
    phases = {k: [] for k in PHASES}
    macs, ips, total = [], [], []
    for it in range(iterations):
        t0 = time.perf_counter()
        arch = mg.sample()
        t_sample = time.perf_counter() - t0
        res = score_candidate(arch, proxy, p.search, candidate_seed(0, it))
        t1 = time.perf_counter()
        if not res["diverged"]:
            mg.update(arch, res["accuracy"], latency_ms=res["latency_ms"], macs=res["macs"])
        t_update = time.perf_counter() - t1
        for k, v in {**res["times"], "sample": t_sample, "update": t_update}.items():
            phases[k].append(v)
        total.append(time.perf_counter() - t0)
        macs.append(res["macs"] / 1e6)
        n_img = p.search.proxy_recipe.epochs * len(proxy.train)
        ips.append(n_img / res["times"]["train"])
    mean_it = statistics.mean(total)
    return {
        "profile": name, "iterations": iterations, "threads": threads,
        "seconds_per_iteration": round(mean_it, 3),
        "phase_seconds": {k: round(statistics.mean(v), 3) for k, v in phases.items()},
        "mmacs_mean": round(statistics.mean(macs), 2), "mmacs_max": round(max(macs), 2),
        "train_images_per_second": round(statistics.mean(ips), 1),
        "estimate_hours_for_profile_budget": round(mean_it * p.search.iterations / 3600, 2),
        "profile_iterations": p.search.iterations,
    }


def _worker(args):
    name, archs, seeds = args
    torch.set_num_threads(1)
    p = get_profile(name)
    data = load_split(p.search.dataset, "train", mirror=p.search.mirror, root=p.search.data_root)
    proxy = make_proxy(data, p.search.proxy_train, p.search.proxy_val, seed=0)
    cfg: SearchConfig = p.search
    return [score_candidate(a, proxy, cfg, s)["times"] for a, s in zip(archs, seeds)]


def compare_workers(name: str, candidates: int) -> dict:
    p = get_profile(name)
    mg = MetaGraph(p.space, p.rule, seed=1)
    archs = [mg.sample() for _ in range(candidates)]
    seeds = list(range(candidates))
    torch.set_num_threads(2)
    data = load_split(p.search.dataset, "train", mirror=p.search.mirror, root=p.search.data_root)
    proxy = make_proxy(data, p.search.proxy_train, p.search.proxy_val, seed=0)
    t = time.perf_counter()
    for a, s in zip(archs, seeds):
        score_candidate(a, proxy, p.search, s)
    one_proc = time.perf_counter() - t
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_worker, [(name, archs[:1], seeds[:1])] * 2)  # warm both workers (imports, data cache)
        t = time.perf_counter()
        pool.map(_worker, [(name, archs[0::2], seeds[0::2]), (name, archs[1::2], seeds[1::2])])
        two_procs = time.perf_counter() - t
    return {"profile": name, "candidates": candidates, "one_process_2_threads_s": round(one_proc, 2),
            "two_processes_1_thread_s": round(two_procs, 2), "faster": "two processes" if two_procs < one_proc
            else "one process"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["smoke", "cpu"])
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare-workers", type=int, default=8, metavar="N",
                    help="candidates for the 1×2-thread vs 2×1-thread comparison (0: skip)")
    args = ap.parse_args()
    print(json.dumps({"torch": torch.__version__, "machine": platform.machine(), "cpu_threads": torch.get_num_threads(),
                      "cuda": torch.cuda.is_available()}))
    for name in args.profiles:
        print(json.dumps(bench_profile(name, args.iterations, args.threads)), flush=True)
    if args.compare_workers:
        for name in args.profiles:
            if name != "paper":
                print(json.dumps(compare_workers(name, args.compare_workers)), flush=True)


if __name__ == "__main__":
    main()
