"""Training throughput (images/s) of the Table 1 SwiftNets beside a plain CNN of equal MACs and MobileNetV2-0.35.

Prints figures (it is not a test). Every model runs the trainer's own step
(:func:`gramlib.train.train` on in-memory uint8 CIFAR-10-shaped tensors: batched
crop + flip, normalisation, forward, backward, SGD step) side by side in one run,
so they share the machine's state; each SwiftNet's timed epochs alternate with its
plain CNN's. The SwiftNets are the cpu meta-graph's
(``results/cpu/search_run/metagraph.json``) pruned to the paper's Table 1 MACs.

    python benchmarks/train_speed.py                    # 5-8 minutes on 2 cores (3 repeats, median)
    python benchmarks/train_speed.py --unfused          # also the SwiftNets without the fused BatchNorm+ELU kernel
    python benchmarks/train_speed.py --compile          # also time torch.compile (compile time reported)

The SwiftNets train as the trainer trains them: BatchNorm + ELU fused on the CPU
(:mod:`gramlib.fused`; ``GRAMLIB_FUSED_BN_ELU``). ``--unfused`` adds each SwiftNet
once more with the eager BatchNorm and ELU modules, in the same rotation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from gramlib import fused
from gramlib.evidence import match_macs
from gramlib.experiments import mobilenet_v2, plain_cnn
from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.profiling import count_cost, cpu_name
from gramlib.shape import level_grid, levels_for_budgets
from gramlib.train import recipe_with, train

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (3, 32, 32)


def images_per_second(model: torch.nn.Module, images: int, batch_size: int, channels_last: bool,
                      use_fused: bool = True) -> float:
    """Train one epoch over ``images`` random images (after a 3-step warm-up) and return images/s."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (images, *SHAPE), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (images,), generator=g)
    recipe = recipe_with("cpu", epochs=1, batch_size=batch_size)
    stats = dict(mean=(0.5,) * 3, std=(0.25,) * 3, progress=False, channels_last=channels_last, device="cpu")
    with fused.use_fused(use_fused):
        train(model, x[: 3 * batch_size], y[: 3 * batch_size], recipe, **stats)  # warm-up (allocator, kernels)
        return train(model, x, y, recipe, **stats).images_per_second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metagraph", default=str(ROOT / "results/cpu/search_run/metagraph.json"))
    ap.add_argument("--budgets", type=float, nargs="+", default=[3, 5, 12, 36])
    ap.add_argument("--images", type=int, default=4096, help="images per timed epoch")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd SwiftNets")
    ap.add_argument("--unfused", action="store_true", help="also time each SwiftNet with eager BatchNorm + ELU")
    ap.add_argument("--repeats", type=int, default=3, help="timed epochs per model and layout, the SwiftNet's and the plain "
                    "CNN's interleaved (the median is printed): one epoch of a small model varies by up to 30 %% between "
                    "runs on this machine")
    args = ap.parse_args()

    mg = MetaGraph.load(args.metagraph)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_name(),
                      "images": args.images, "batch_size": args.batch_size,
                      "fused_bn_elu": fused.extension() is not None}))
    for pick in levels_for_budgets(mg, args.budgets, levels=level_grid(61)):
        arch = mg.prune(pick["level"])
        target = pick["mmacs"] * 1e6
        width, _ = match_macs(lambda f: plain_cnn(f, 10), target, SHAPE, lo=0.1, hi=8.0, tolerance=0.15)
        models = {
            f"SwiftNet@{pick['budget_mmacs']:g}M": lambda: build_model(arch, 10, 3),
            f"plain-CNN@{pick['budget_mmacs']:g}M": lambda: plain_cnn(width, 10),
        }
        if args.unfused:
            models[f"SwiftNet-unfused@{pick['budget_mmacs']:g}M"] = lambda: build_model(arch, 10, 3)
        best: dict[str, float] = {}
        for cl in (False, True):
            built = {}
            for name, make in models.items():
                torch.manual_seed(0)
                built[name] = make()
            runs: dict[str, list[float]] = {name: [] for name in built}
            for rnd in range(args.repeats):  # interleaved: a drift in the machine's speed touches both models alike
                order = list(built.items())
                for name, m in (order if rnd % 2 == 0 else order[::-1]):  # and neither always goes first
                    runs[name].append(images_per_second(m, args.images, args.batch_size, cl,
                                                        use_fused="unfused" not in name))
            for name, m in built.items():
                cost = count_cost(m, SHAPE)
                ips = statistics.median(runs[name])
                best[name.split("@")[0]] = max(best.get(name.split("@")[0], 0.0), ips)
                print(json.dumps({"model": name, "mmacs": round(cost.mmacs, 2), "mparams": round(cost.params / 1e6, 3),
                                  "channels_last": cl, "train_images_per_s": round(ips),
                                  "runs": [round(r) for r in runs[name]]}), flush=True)
            sw, pc = list(runs.values())[:2]  # the SwiftNet (as trained) and its plain CNN, by construction
            print(json.dumps({"budget_mmacs": pick["budget_mmacs"], "channels_last": cl,
                              "ratio_per_round": [round(a / b, 3) for a, b in zip(sw, pc)]}), flush=True)
        # each model at its faster memory layout: what the trainer would choose
        line = {"budget_mmacs": pick["budget_mmacs"], "swiftnet_vs_plain_cnn": round(best["SwiftNet"] / best["plain-CNN"], 3)}
        if args.unfused:
            line["unfused_vs_plain_cnn"] = round(best["SwiftNet-unfused"] / best["plain-CNN"], 3)
        print(json.dumps(line), flush=True)
        if args.compile:
            torch.manual_seed(0)
            m = build_model(arch, 10, 3)
            t0 = time.perf_counter()
            mc = torch.compile(m)
            ips = images_per_second(mc, args.images, args.batch_size, True)
            print(json.dumps({"model": f"SwiftNet@{pick['budget_mmacs']:g}M compiled", "channels_last": True,
                              "train_images_per_s": round(ips), "first_epoch_s_incl_compile": round(time.perf_counter() - t0, 1)}),
                  flush=True)
    m = mobilenet_v2(0.35, 10, small_input=True)
    cost = count_cost(m, SHAPE)
    for cl in (False, True):
        torch.manual_seed(0)
        m = mobilenet_v2(0.35, 10, small_input=True)
        print(json.dumps({"model": "MobileNetV2-0.35 (small input)", "mmacs": round(cost.mmacs, 2),
                          "mparams": round(cost.params / 1e6, 3), "channels_last": cl,
                          "train_images_per_s": round(statistics.median(images_per_second(m, args.images, args.batch_size, cl)
                                                                         for _ in range(args.repeats)))}), flush=True)


if __name__ == "__main__":
    main()
