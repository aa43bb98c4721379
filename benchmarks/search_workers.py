"""Two workers × 1 thread against one worker × 2 threads: the cpu search on Ray, measured side by side.

    python benchmarks/search_workers.py                  # 24 iterations per setting, ~10 minutes on 2 cores
    python benchmarks/search_workers.py --iterations 40 --proxy-from cpu

Runs the cpu profile's search (the proxy 10_proxy recommends at --proxy-from)
for the same number of iterations under each setting, one after another in one
run, each in a fresh temporary folder, and prints a Markdown table: wall time,
iterations per hour, and the mean candidate training time. Needs Ray
(pip install -e '.[distributed]').
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from gramlib.data import load_split, make_proxy
from gramlib.evidence import proxy_variant
from gramlib.pipeline import recommended_proxy_at
from gramlib.profiles import get_profile
from gramlib.search import load_history, search

#: name -> SearchConfig overrides
SETTINGS = {
    "1 worker × 2 threads (local)": {"executor": "local", "workers": 1, "threads": 2},
    "2 workers × 1 thread (Ray, ordered)": {"executor": "ray", "workers": 2, "cpus_per_candidate": 1, "ray_num_cpus": 2},
    "2 workers × 1 thread (Ray, as finished)": {"executor": "ray", "workers": 2, "cpus_per_candidate": 1,
                                                 "ray_num_cpus": 2, "ordered": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=24)
    ap.add_argument("--proxy-from", default="cpu", help="scale whose 10_proxy recommendation sets the proxy")
    ap.add_argument("--only", nargs="*", help="substrings of the setting names to run")
    args = ap.parse_args()
    prof = get_profile("cpu", search={"iterations": args.iterations})
    name, over = recommended_proxy_at(args.proxy_from)
    config = proxy_variant(prof.search, over)
    data = load_split(config.dataset, "train", root=config.data_root, mirror=config.mirror)
    proxy = make_proxy(data, config.proxy_train, config.proxy_val, per_class=config.per_class, seed=config.seed)
    print(json.dumps({"profile": "cpu", "proxy": name, "proxy_train": config.proxy_train,
                      "iterations": args.iterations}))
    print("\n| setting | wall s | iterations / h | mean candidate train s | mean staleness |")
    print("|---|---|---|---|---|")
    for label, kw in SETTINGS.items():
        if args.only and not any(o in label for o in args.only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            search(prof.space, prof.rule, replace(config, **kw), Path(tmp) / "run", proxy=proxy, progress=True)
            wall = time.perf_counter() - t  # includes starting (and stopping) a local Ray
            rows = load_history(Path(tmp) / "run")
        train_s = statistics.mean(r["times"].get("train", float("nan")) for r in rows)
        stale = statistics.mean(r["staleness"] for r in rows)
        print(f"| {label} | {wall:.0f} | {3600 * len(rows) / wall:.0f} | {train_s:.2f} | {stale:.2f} |", flush=True)


if __name__ == "__main__":
    main()
