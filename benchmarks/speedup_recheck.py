"""Re-measure the Imagenette speed-up at equal accuracy in a fresh process: how far the stage's eager figure moves.

Prints figures (it is not a test). ``06_imagenet_tables2_3`` measures every model's batch-1, 1-thread latency
in the notebook's own process, after the trainings. This script rebuilds the same models (SwiftNets from the
architecture files the stage wrote, MobileNetV2 from torchvision at the same widths), measures eager PyTorch
latency in a clean process, interleaved ``--rounds`` times (the median is kept), and recomputes the speed-up at
equal accuracy from the stage's accuracies with the stage's function (``gramlib.evidence.speedup_table``).

    python benchmarks/speedup_recheck.py                 # ~30 s on 2 cores (21 models x 3 rounds)
    python benchmarks/speedup_recheck.py --rounds 10     # and the speed-up's spread over 10 rounds
    python benchmarks/speedup_recheck.py --scale quick

Each round is a full interleaved pass, so it gives a speed-up of its own: the last lines print, per input size,
every round's geometric-mean speed-up (NaN: that round's curves have no equal-accuracy point) and "at least"
bound, with their median, minimum and maximum. One median over rounds hides how far one reading can move.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd
import torch

from gramlib.architecture import Architecture
from gramlib.evidence import speedup_table
from gramlib.experiments import mobilenet_v2
from gramlib.model import build_model
from gramlib.profiling import cpu_name, measure_latency

ROOT = Path(__file__).resolve().parents[1]


def rebuild(row, stage_dir: Path) -> torch.nn.Module:
    """The model behind one row of ``latency_1thread.csv`` (untrained: latency does not depend on the weights)."""
    torch.manual_seed(0)
    if row.family == "MobileNetV2":  # "MobileNetV2-<width>-<input>"
        return mobilenet_v2(float(row.model.split("-")[1]), 10)
    return build_model(Architecture.load(stage_dir / f"{row.model}.json"), 10, 3, input_size=int(row.input))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="cpu", help="which results/<scale>/06_imagenet_tables2_3 to re-measure")
    ap.add_argument("--runs", type=int, default=100, help="timed runs per measurement (median)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved passes over every model (median of the rounds)")
    args = ap.parse_args()
    stage_dir = ROOT / "results" / args.scale / "06_imagenet_tables2_3"
    lat = pd.read_csv(stage_dir / "latency_1thread.csv")
    lat = lat[lat.backend == "eager"].reset_index(drop=True)
    print(json.dumps({"torch": torch.__version__, "cpu": cpu_name(), "scale": args.scale, "models": len(lat),
                      "runs": args.runs, "rounds": args.rounds}))
    models = [rebuild(r, stage_dir) for r in lat.itertuples()]
    times: list[list[float]] = [[] for _ in models]
    for _ in range(args.rounds):  # interleaved, so drift in the machine's state touches every model alike
        for i, (r, m) in enumerate(zip(lat.itertuples(), models)):
            times[i].append(measure_latency(m, (3, r.input, r.input), runs=args.runs, warmup=10, threads=1).median_ms)
    lat["fresh_ms"] = [statistics.median(t) for t in times]
    for r in lat.itertuples():
        print(json.dumps({"model": r.model, "top1": round(r.top1, 2), "stage_ms": round(r.latency_ms, 3),
                          "fresh_ms": round(r.fresh_ms, 3)}))
    for col in ("latency_ms", "fresh_ms"):
        for s in speedup_table(lat, by=["input"], latency=col)[1]:
            print(json.dumps({"latencies": "stage" if col == "latency_ms" else "fresh process",
                              **{k: round(v, 3) if isinstance(v, float) else int(v) if k == "input" else v
                                 for k, v in s.items()}}))
    per_round: dict[int, dict[str, list[float]]] = {}
    for k in range(args.rounds):
        lat[f"round_{k}"] = [t[k] for t in times]
        for s in speedup_table(lat, by=["input"], latency=f"round_{k}")[1]:
            got = per_round.setdefault(int(s["input"]), {"geomean": [], "at_least": []})
            got["geomean"].append(s["geomean"])
            got["at_least"].append(s["at_least"])
    for size, got in per_round.items():
        out = {"latencies": "per round", "input": size, "rounds": args.rounds}
        for name, v in got.items():
            finite = sorted(x for x in v if x == x)
            out[name] = [round(x, 3) for x in v]
            out[f"{name}_median_min_max"] = ([round(statistics.median(finite), 3), round(finite[0], 3), round(finite[-1], 3)]
                                             if finite else None)
            out[f"{name}_nan_rounds"] = len(v) - len(finite)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
