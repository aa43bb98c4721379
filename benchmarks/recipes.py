"""Which training recipe learns fastest on 2 CPU cores? Prints accuracy reached per run and per minute.

Trains the cpu meta-graph's 3 M-MAC SwiftNet (Table 1's smallest) on the whole
CIFAR-10 training split under each recipe for the same number of epochs, one
after another in one run, and prints test accuracy and wall time (JSON lines).
The table in docs/interpretation.md ("Training recipe") comes from this script.

    python benchmarks/recipes.py                 # 5 epochs each, ~8 minutes on 2 cores
    python benchmarks/recipes.py --epochs 15 --budget 5

``--set short`` compares batch size and learning rate for the quick scale's runs of a few epochs (where
``cpu-short`` comes from), e.g. on Imagenette at 96 px at Table 3's 10 M MACs, 2 epochs, 1,000 test images:

    python benchmarks/recipes.py --set short --metagraph results/quick/search_run/metagraph.json \
        --dataset imagenette --input-size 96 --budget 10 --epochs 2 --test-limit 1000

``--filter-cap`` builds the same meta-graph (same learned weights, the same node operations drawn from its
seed) under another cap on node filters before pruning to the budget, e.g. the paper's uncapped menu
(conv1x1-128, conv3x3-64, ...) against the cpu profile's cap of 32 (docs/interpretation.md, "Table 1's gap"):

    python benchmarks/recipes.py --budget 3 --epochs 30 --only "cpu: Nesterov" --filter-cap none

``--layout`` builds the same DAGs in another skeleton layout (gramlib.skeleton.LAYOUTS) and prunes them to the
budget there, e.g. a first hierarchy at 16x16 instead of 8x8 at the same MACs:

    python benchmarks/recipes.py --budget 3 --epochs 30 --only "cpu: Nesterov" --layout pool-before

``--fit`` takes Table 1's own model for the budget (gramlib.shape.fit_budgets: a channel scale across a cliff of
the pruning profile) instead of pruning alone, e.g. the committed 3 M row trained 90 epochs instead of 30:

    python benchmarks/recipes.py --budget 3 --epochs 90 --only "cpu: Nesterov" --fit
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math

import torch

from gramlib.experiments import load_train_test
from gramlib.data import normalize_stats
from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.profiling import cpu_name
from gramlib.shape import fit_budgets, level_grid, levels_for_budgets, with_layout
from gramlib.skeleton import LAYOUTS
from gramlib.train import Normalizer, evaluate, recipe_with, train

#: name → recipe overrides on top of a named recipe
CANDIDATES = {
    "paper (SGD 0.01, steps at 50/75 %, b128)": ("cifar10", {}),
    "paper, lr 0.1": ("cifar10", {"lr": 0.1}),
    "Nesterov cosine lr 0.1 b128 ls0.1": ("cifar10", {"lr": 0.1, "nesterov": True, "schedule": "cosine", "label_smoothing": 0.1}),
    "cpu: Nesterov one-cycle lr 0.2 b256 ls0.1": ("cpu", {}),
    "cpu without label smoothing": ("cpu", {"label_smoothing": 0.0}),
    "cpu at b512 lr 0.4": ("cpu", {"batch_size": 512, "lr": 0.4}),
    # Table 1's rows under-fit (final training accuracy within 1-2 points of test): does less weight decay help?
    "cpu at weight decay 5e-5": ("cpu", {"weight_decay": 5e-5}),
    "cpu at weight decay 1e-3": ("cpu", {"weight_decay": 1e-3}),
}

#: runs of a few epochs (quick: 1-3): batch size (steps per epoch) and learning rate around `cpu`
SHORT_CANDIDATES = {
    "cpu: b256 lr 0.2": ("cpu", {}),
    "cpu at lr 0.05": ("cpu", {"lr": 0.05}),
    "cpu at b128 lr 0.1": ("cpu", {"batch_size": 128, "lr": 0.1}),
    "cpu-short: b128 lr 0.05": ("cpu-short", {}),
    "cpu at b64 lr 0.05": ("cpu", {"batch_size": 64, "lr": 0.05}),
}


def with_filter_cap(mg: MetaGraph, cap: int | None) -> MetaGraph:
    """``mg`` with its node operations drawn again from its seed under filter cap ``cap``; weights unchanged.

    Raises SystemExit if drawing under ``mg``'s own cap does not give its stored operations (another
    numpy, or a file whose operations were not drawn by :class:`MetaGraph`)."""
    if MetaGraph(mg.space, mg.rule, seed=mg.seed).ops != mg.ops:
        raise SystemExit("this meta-graph's node operations cannot be drawn again from its seed")
    space = dataclasses.replace(mg.space, filter_cap=cap)
    out = copy.deepcopy(mg)
    out.space, out.ops = space, MetaGraph(space, mg.rule, seed=mg.seed).ops
    return out


def filter_cap(text: str) -> int | str | None:
    if text == "search":  # the default: the meta-graph's own cap
        return text
    if text.lower() == "none":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--filter-cap takes a positive integer, 'none' or 'search', got {text!r}")
    return int(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metagraph", default="results/cpu/search_run/metagraph.json")
    ap.add_argument("--budget", type=float, default=3.0, help="Table 1 MAC budget (M) of the model trained")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="substrings of the candidate names to run")
    ap.add_argument("--set", choices=("long", "short"), default="long",
                    help="long: recipes for cpu-scale runs; short: batch size and lr for runs of a few epochs")
    ap.add_argument("--dataset", default="cifar10", help="a gramlib.data dataset name")
    ap.add_argument("--input-size", type=int, default=None, help="resize images to this side (Imagenette: 96)")
    ap.add_argument("--test-limit", type=int, default=None, help="test images (default: all)")
    ap.add_argument("--filter-cap", type=filter_cap, default="search",
                    help="cap on node filters before pruning: a number or 'none' (default: the meta-graph's own)")
    ap.add_argument("--layout", choices=sorted(LAYOUTS), default=None,
                    help="build and prune the DAGs in this skeleton layout (default: the meta-graph's own)")
    ap.add_argument("--fit", action="store_true",
                    help="Table 1's model for the budget (fit_budgets: across a cliff, a channel scale) instead of pruning alone")
    args = ap.parse_args()
    if args.fit and (args.layout is not None or args.filter_cap != "search"):
        ap.error("--fit builds Table 1's model as it is: it does not combine with --layout or --filter-cap")
    mg = MetaGraph.load(args.metagraph)
    if args.filter_cap != "search":
        mg = with_filter_cap(mg, args.filter_cap)
    tr, te = load_train_test(args.dataset, input_size=args.input_size, test_limit=args.test_limit)
    shape = tuple(tr.x.shape[1:])
    if args.fit:  # Table 1's row (04_table1_cifar10): the same grid, rule and tolerance
        (pick,) = fit_budgets(mg, [args.budget], levels=level_grid(61), input_shape=shape, num_classes=len(tr.classes))
        arch = mg.prune(pick["level"]).scale_channels(pick["scale"])
    else:
        (pick,) = levels_for_budgets(mg, [args.budget], levels=level_grid(61), layout_name=args.layout,
                                     input_shape=shape, num_classes=len(tr.classes))
        arch = mg.prune(pick["level"])
    if args.layout is not None:
        arch = with_layout(arch, args.layout)
    mean, std = normalize_stats(tr)
    print(json.dumps({"metagraph": args.metagraph, "dataset": args.dataset, "input": list(shape),
                      "model_mmacs": round(pick["mmacs"], 2), "model_kparams": round(1e3 * pick["mparams"], 1),
                      "macs_per_param": round(pick["macs_per_param"], 1), "filter_cap": mg.space.filter_cap,
                      "layout": arch.skeleton.describe(),
                      "level": pick["level"], "scale": pick.get("scale", 1.0), "epochs": args.epochs,
                      "train_images": len(tr), "test_images": len(te), "threads": torch.get_num_threads(),
                      "cpu": cpu_name()}))
    for name, (base, over) in (SHORT_CANDIDATES if args.set == "short" else CANDIDATES).items():
        if args.only and not any(o in name for o in args.only):
            continue
        recipe = recipe_with(base, epochs=args.epochs, **over)
        torch.manual_seed(0)
        model = build_model(arch, len(tr.classes), shape[0], input_size=shape[1])
        res = train(model, tr.x, tr.y, recipe, mean=mean, std=std, channels_last=True, progress=False, device="cpu")
        acc = 100 * evaluate(model, te.x, te.y, Normalizer(mean, std, torch.device("cpu")), channels_last=True)["top1"]
        minutes = res.seconds / 60
        print(json.dumps({"recipe": name, "top1": round(acc, 2), "minutes": round(minutes, 2),
                          "top1_per_minute": round(acc / minutes, 2) if minutes else math.nan,
                          "final_train_loss": round(res.final["train_loss"], 3),
                          "final_train_acc": round(100 * res.final["train_acc"], 2)}), flush=True)


if __name__ == "__main__":
    main()
