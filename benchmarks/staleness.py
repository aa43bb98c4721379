"""What staleness costs: iterations Algorithm 1 needs to reach a planted structure with k candidates in flight.

    python benchmarks/staleness.py                          # k = 1, 2, 4, 8, 16; cpu profile's rule; seeds 0-5
    python benchmarks/staleness.py --workers 1 8 --iterations 6000

With k workers and ordered results (gramlib.search, ``workers = k``), every
update applies to a candidate sampled k − 1 updates earlier. The reward here is
the planted, noiseless one (gramlib.planted), so the workers are simulated
exactly and cheaply: the table isolates what staleness does to the update
rule, not the cost of training. The strict criterion (every relevant row
learned) is never met by the cpu rule even at k = 1 (docs/interpretation.md,
"Update rule"), so "reached" here is the first iteration at which a share
``--rows`` of the relevant rows is learned (planted edge kept with p ≥ 0.9,
every other ≤ 0.1). Prints a Markdown table: that iteration per seed, the
median, its ratio to k = 1, and the rows learned at the cap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from gramlib.planted import run_planted
from gramlib.profiles import get_profile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", help="whose meta-graph shape and update rule (its cost term is dropped)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--iterations", type=int, default=4000, help="cap per run; 'never' if not converged by then")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    ap.add_argument("--rows", type=float, default=0.5, help="share of relevant rows learned that counts as reached")
    args = ap.parse_args()

    prof = get_profile(args.profile)
    rule = replace(prof.rule, cost="none")  # the planted reward carries its own cost
    s = prof.space
    print(f"profile {args.profile}: h={s.hierarchies} m={s.dags_per_hierarchy} n={s.nodes}; rule {rule}; "
          f"cap {args.iterations} iterations; seeds {args.seeds}\n")
    print(f"| workers k | iterations to {args.rows:.0%} of rows learned (per seed) | median | × k = 1 "
          f"| rows learned at {args.iterations} (mean) | seconds |")
    print("|---|---|---|---|---|---|")
    base = None
    for k in args.workers:
        t = time.perf_counter()
        conv, learned = [], []
        for seed in args.seeds:
            rows = run_planted(s, rule, args.iterations, seed=seed, workers=k)
            conv.append(next((int(r["iteration"]) for r in rows if r["rows_learned"] >= args.rows), None))
            learned.append(rows[-1]["rows_learned"])
        # a run that never converged counts as the cap (the median then says "at least")
        med = statistics.median(args.iterations if c is None else c for c in conv)
        if base is None:
            base = med
        never = sum(c is None for c in conv)
        med_s = f"{'≥ ' if never > len(conv) // 2 else ''}{med:g}"
        print(f"| {k} | {', '.join('never' if c is None else str(c) for c in conv)} | {med_s} | {med / base:.2f} "
              f"| {statistics.mean(learned):.2f} | {time.perf_counter() - t:.0f} |", flush=True)


if __name__ == "__main__":
    main()
