"""Can Algorithm 1 find a planted structure? Readings of the update rule side by side.

    python benchmarks/planted.py                       # cpu profile's meta-graph, 1000 iterations, seeds 0-2
    python benchmarks/planted.py --iterations 3000 --readings literal chosen

The proxy is replaced by a noiseless reward that favours one planted out-edge
per node (gramlib.planted); each reading of Algorithm 1 runs exactly as in a
search. Prints a Markdown table (means over seeds) and writes the per-10-
iteration trajectories to --csv for plotting.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from dataclasses import replace

from gramlib.metagraph import UpdateRule
from gramlib.planted import iterations_to_converge, run_planted
from gramlib.profiles import get_profile

#: name -> rule overrides on top of the cost-free literal rule (paper: α = 0.9, raw η′ − β, no exploration)
READINGS = {
    "literal": {},
    "literal-alpha20": {"alpha": 20.0},
    "literal+explore": {"explore": 0.1},
    "standardized-a0.3": {"advantage": "standardized", "alpha": 0.3},
    "standardized-a0.5": {"advantage": "standardized", "alpha": 0.5},
    "standardized-a0.5+explore0.05": {"advantage": "standardized", "alpha": 0.5, "explore": 0.05},
    "standardized-a0.5+explore0.1": {"advantage": "standardized", "alpha": 0.5, "explore": 0.1},
    "standardized-a1.0": {"advantage": "standardized", "alpha": 1.0},
}

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    ap.add_argument("--readings", nargs="+", default=list(READINGS), choices=list(READINGS))
    ap.add_argument("--csv", default=None, help="write every trajectory row here")
    args = ap.parse_args()

    prof = get_profile(args.profile)
    space = prof.space
    base = replace(UpdateRule(), cost="none")
    print(f"profile {args.profile}: h={space.hierarchies} m={space.dags_per_hierarchy} n={space.nodes}, "
          f"{args.iterations} iterations, seeds {args.seeds}; the profile itself uses {prof.rule}\n")
    print("| reading | rule | planted p (mean) | planted p (min) | other p (mean) | other p (max) "
          "| rows learned | entropy | converged at |")
    print("|---|---|---|---|---|---|---|---|---|")
    out = []
    for name in args.readings:
        rule = replace(base, **READINGS[name])
        finals, conv = [], []
        for seed in args.seeds:
            rows = run_planted(space, rule, args.iterations, seed=seed)
            finals.append(rows[-1])
            conv.append(iterations_to_converge(rows))
            out += [{"reading": name, "seed": seed, **r} for r in rows]
        mean = {k: statistics.mean(f[k] for f in finals) for k in finals[0] if k not in ("iteration", "reward")}
        conv_s = ", ".join("never" if c is None else str(c) for c in conv)
        desc = ", ".join(f"{k}={v}" for k, v in READINGS[name].items()) or "paper"
        print(f"| {name} | {desc} | {mean['planted_mean']:.2f} | {mean['planted_min']:.2f} | {mean['other_mean']:.3f} "
              f"| {mean['other_max']:.2f} | {mean['rows_learned']:.2f} | {mean['entropy']:.2f} | {conv_s} |",
              flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(out[0]))
            w.writeheader()
            w.writerows(out)


if __name__ == "__main__":
    main()
