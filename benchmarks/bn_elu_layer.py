"""One BatchNorm + ELU layer, fused kernel against eager PyTorch: forward + backward time per layer shape.

Prints figures (it is not a test). Each shape is a SwiftNet node's output at batch 128, channels-last: 32
channels (Table 1's models at scale 1), 24 and 48 (its x0.75 and x1.5 models), at the 16x16, 8x8 and 4x4 maps of
the three hierarchies. Each figure is the best of 3 rounds of ``--reps`` forward + backward passes; the fused and
eager rounds alternate, so a drift in the machine's speed touches both.

    python benchmarks/bn_elu_layer.py              # about 15 s on 2 cores
    python benchmarks/bn_elu_layer.py --threads 1  # the kernel's own speed, without at::parallel_for
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from gramlib import fused
from gramlib.profiling import cpu_name


def step_ms(bn: nn.BatchNorm2d, x: torch.Tensor, g: torch.Tensor, use: bool, reps: int) -> float:
    """Mean milliseconds of one forward + backward of ELU(BatchNorm(x)), fused or eager."""
    t = time.perf_counter()
    for _ in range(reps):
        xx = x.detach().requires_grad_()
        with fused.use_fused(use):
            y = fused.bn_elu(bn, xx) if use else nn.functional.elu(bn(xx))
        y.backward(g)
    return (time.perf_counter() - t) / reps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=100, help="passes per timed round")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if fused.extension() is None:
        raise SystemExit(f"the fused kernel is not built here: {fused.status()}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps({"cpu": cpu_name(), "threads": torch.get_num_threads(), "batch": args.batch, "torch": torch.__version__}))
    torch.manual_seed(0)
    for channels in (24, 32, 48):
        for side in (16, 8, 4):
            x = torch.randn(args.batch, channels, side, side).contiguous(memory_format=torch.channels_last)
            g = torch.randn_like(x)
            bn = nn.BatchNorm2d(channels).train()
            best = {True: float("inf"), False: float("inf")}
            for use in (True, False):  # warm-up
                step_ms(bn, x, g, use, 5)
            for _ in range(3):
                for use in (True, False):
                    best[use] = min(best[use], step_ms(bn, x, g, use, args.reps))
            print(json.dumps({"channels": channels, "map": f"{side}x{side}", "fused_ms": round(best[True], 3),
                              "eager_ms": round(best[False], 3), "speedup": round(best[False] / best[True], 2)}), flush=True)


if __name__ == "__main__":
    main()
