"""Counting a pruning profile: fvcore's trace against the module-shape count, on one meta-graph.

Prints figures (it is not a test; tests/test_model.py holds the two counts equal). Every pipeline stage that
picks a level for a MAC budget counts the meta-graph pruned at each level of a grid (61 levels, about 25
distinct models per input); this times both counters on that work, model building included, and checks that
they agree on every model.

    python benchmarks/count_speed.py                                   # the committed quick meta-graph
    python benchmarks/count_speed.py --metagraph results/cpu/search_run/metagraph.json --points 31
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.profiling import count_cost, count_cost_by_shapes, cpu_name
from gramlib.shape import level_grid

#: (label, input (C, H, W), channel scale): the inputs the pipeline's stages profile
INPUTS = [("CIFAR-10", (3, 32, 32), 1.0), ("MNIST, width 0.25", (1, 28, 28), 0.25),
          ("Fashion-MNIST, width 0.5", (1, 28, 28), 0.5), ("Imagenette 96 px", (3, 96, 96), 1.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metagraph", default="results/quick/search_run/metagraph.json")
    ap.add_argument("--points", type=int, default=61, help="levels in the grid (gramlib.shape.level_grid)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    mg = MetaGraph.load(args.metagraph)
    print(f"{args.metagraph}, {args.points} levels, {cpu_name()}, {torch.get_num_threads()} threads\n")
    print("| input | distinct models | fvcore (s) | shapes (s) | ratio |")
    print("|---|---|---|---|---|")
    for label, shape, scale in INPUTS:
        archs = {}
        for lv in level_grid(args.points):
            a = mg.prune(lv)
            a = a.scale_channels(scale) if scale != 1.0 else a
            archs.setdefault(json.dumps(a.to_dict(), sort_keys=True), a)
        seconds = {}
        counts = {}
        for name, counter in (("fvcore", count_cost), ("shapes", count_cost_by_shapes)):
            t = time.perf_counter()
            counts[name] = [counter(build_model(a, 10, shape[0], input_size=shape[1]), shape) for a in archs.values()]
            seconds[name] = time.perf_counter() - t
        if counts["fvcore"] != counts["shapes"]:
            raise SystemExit(f"{label}: the two counts differ")
        print(f"| {label} | {len(archs)} | {seconds['fvcore']:.1f} | {seconds['shapes']:.1f} | "
              f"{seconds['fvcore'] / seconds['shapes']:.1f}x |")


if __name__ == "__main__":
    main()
