"""How well a per-operation latency table ranks architectures: estimates beside measured latency.

    python benchmarks/latency_table.py                       # cpu profile, committed cpu meta-graph, 40 models
    python benchmarks/latency_table.py --profile smoke --models 20 --runs 30

A search with ``latency="table"`` (gramlib.latency_table) rewards candidates by
an estimate, the sum of their conv-BN-ELU blocks' table entries, instead of a
timing: deterministic, so the same seed gives the same meta-graph. What that
costs is how far the estimate's order departs from measured latency. This
script measures the table (once), then draws models from the meta-graph at
pruning levels spread over [0, 0.95] plus fresh samples, measures each
(batch 1, median of ``--runs``, 1 thread) and prints Kendall's τ and
Spearman's ρ between estimate and measurement, and their ratio (the estimate
leaves out pools, concatenation and the classifier, so it is lower). Run it on
an otherwise idle machine: other load adds noise to the measured side only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import stats

from gramlib.latency_table import LatencyTable
from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.pipeline import hardware
from gramlib.profiles import get_profile
from gramlib.profiling import measure_latency

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--metagraph", default=str(ROOT / "results/cpu/search_run/metagraph.json"),
                    help="draw models from this meta-graph (default: the committed cpu search; a fresh one if absent)")
    ap.add_argument("--models", type=int, default=40)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--input", type=int, default=32)
    args = ap.parse_args()

    p = get_profile(args.profile)
    shape = (3, args.input, args.input)
    f = Path(args.metagraph)
    mg = MetaGraph.load(f, expected_space=p.space) if f.exists() else MetaGraph(p.space, p.rule, seed=0)
    t0 = time.perf_counter()
    table = LatencyTable.measure(p.space, shape, runs=args.runs, warmup=5, threads=1)
    t_table = time.perf_counter() - t0
    half = args.models // 2
    archs = [mg.prune(level) for level in np.linspace(0.0, 0.95, half)] + [mg.sample() for _ in range(args.models - half)]
    est, meas = [], []
    for arch in archs:
        model = build_model(arch, 10, 3)
        est.append(table.estimate_ms(model, shape))
        meas.append(measure_latency(model, shape, runs=args.runs, warmup=5, threads=1).median_ms)
    tau, rho = stats.kendalltau(est, meas)[0], stats.spearmanr(est, meas)[0]
    ratio = statistics.median(e / m for e, m in zip(est, meas))
    print(f"profile {args.profile}, input {args.input} px, {len(archs)} models ({half} pruning levels, "
          f"{len(archs) - half} samples) from {f.name if f.exists() else 'a fresh meta-graph'}; {hardware()}")
    print(f"table: {len(table.entries)} operations, {sum(len(e['cin']) for e in table.entries.values())} "
          f"measurements, {t_table:.1f} s")
    print("| models | measured ms (min-max) | Kendall tau | Spearman rho | estimate / measured (median) |")
    print("|---|---|---|---|---|")
    print(f"| {len(archs)} | {min(meas):.2f}-{max(meas):.2f} | {tau:.3f} | {rho:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
