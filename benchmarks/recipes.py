"""Which training recipe learns fastest on 2 CPU cores? Prints accuracy reached per run and per minute.

Trains the cpu meta-graph's 3 M-MAC SwiftNet (Table 1's smallest) on the whole
CIFAR-10 training split under each recipe for the same number of epochs, one
after another in one run, and prints test accuracy and wall time (JSON lines).
The table in docs/interpretation.md ("Training recipe") comes from this script.

    python benchmarks/recipes.py                 # 5 epochs each, ~8 minutes on 2 cores
    python benchmarks/recipes.py --epochs 15 --budget 5
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from gramlib.experiments import load_train_test
from gramlib.data import normalize_stats
from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.shape import level_grid, levels_for_budgets
from gramlib.train import Normalizer, evaluate, recipe_with, train

#: name → recipe overrides on top of a named recipe
CANDIDATES = {
    "paper (SGD 0.01, steps at 50/75 %, b128)": ("cifar10", {}),
    "paper, lr 0.1": ("cifar10", {"lr": 0.1}),
    "Nesterov cosine lr 0.1 b128 ls0.1": ("cifar10", {"lr": 0.1, "nesterov": True, "schedule": "cosine", "label_smoothing": 0.1}),
    "cpu: Nesterov one-cycle lr 0.2 b256 ls0.1": ("cpu", {}),
    "cpu without label smoothing": ("cpu", {"label_smoothing": 0.0}),
    "cpu at b512 lr 0.4": ("cpu", {"batch_size": 512, "lr": 0.4}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metagraph", default="results/cpu/search_run/metagraph.json")
    ap.add_argument("--budget", type=float, default=3.0, help="Table 1 MAC budget (M) of the model trained")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="substrings of the candidate names to run")
    args = ap.parse_args()
    mg = MetaGraph.load(args.metagraph)
    (pick,) = levels_for_budgets(mg, [args.budget], levels=level_grid(61))
    arch = mg.prune(pick["level"])
    tr, te = load_train_test("cifar10")
    mean, std = normalize_stats(tr)
    print(json.dumps({"model_mmacs": round(pick["mmacs"], 2), "level": pick["level"], "epochs": args.epochs,
                      "threads": torch.get_num_threads()}))
    for name, (base, over) in CANDIDATES.items():
        if args.only and not any(o in name for o in args.only):
            continue
        recipe = recipe_with(base, epochs=args.epochs, **over)
        torch.manual_seed(0)
        model = build_model(arch, 10, 3)
        res = train(model, tr.x, tr.y, recipe, mean=mean, std=std, channels_last=True, progress=False, device="cpu")
        acc = 100 * evaluate(model, te.x, te.y, Normalizer(mean, std, torch.device("cpu")), channels_last=True)["top1"]
        minutes = res.seconds / 60
        print(json.dumps({"recipe": name, "top1": round(acc, 2), "minutes": round(minutes, 2),
                          "top1_per_minute": round(acc / minutes, 2) if minutes else math.nan,
                          "final_train_loss": round(res.final["train_loss"], 3)}), flush=True)


if __name__ == "__main__":
    main()
