"""MNIST at Table 4's 0.23 M MACs on the committed cpu meta-graph, at one width, augmentation and length: a probe of
what costs the half-point below 99 % (README, "Table 4 at the cpu scale"). Prints one JSON line (also appended to
/tmp/probe/mnist.jsonl); checkpoints in /tmp/probe/ckpt, so a rerun of the same settings only evaluates.

    python benchmarks/mnist_width.py WIDTH AUGMENT EPOCHS   # AUGMENT: none | crop | crop_flip
    python benchmarks/mnist_width.py 0.35 crop 60          # 98.64 % on 2026-11-28 (733 s, AMD EPYC)
    python benchmarks/mnist_width.py 0.5 none 60           # 98.84 % on 2026-11-28 (final training accuracy 99.97 %)
"""
import json, os, sys, time
from pathlib import Path
from gramlib.pipeline import ROOT
os.chdir(ROOT)
from gramlib import MetaGraph, build_model
from gramlib.experiments import load_train_test, fit_and_score
from gramlib.shape import level_grid, levels_for_budgets
from gramlib.train import recipe_with
w, aug, ep = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
mg = MetaGraph.load("results/cpu/search_run/metagraph.json")
(pick,) = levels_for_budgets(mg, [0.23], levels=level_grid(61), input_shape=(1, 28, 28), scale=w)
arch = mg.prune(pick["level"]).scale_channels(w)
tr, te = load_train_test("mnist", seed=0)
rec = recipe_with("cpu", epochs=ep, augment=aug)
t = time.time()
r = fit_and_score(f"mnist-w{w}-{aug}-{ep}", lambda: build_model(arch, 10, 1), tr, te, rec, key={"arch": arch.to_dict(), "in": 1},
                  seed=0, ckpt_dir="/tmp/probe/ckpt", latency_runs=3, progress=False)
Path("/tmp/probe").mkdir(parents=True, exist_ok=True)
out = {"width": w, "augment": aug, "epochs": ep, "level": pick["level"], "mmacs": r["mmacs"], "mparams": r.get("mparams"),
       "top1": r["top1"], "final_train_acc": r.get("final_train_acc"), "s": round(time.time() - t)}
print(json.dumps(out)); open("/tmp/probe/mnist.jsonl", "a").write(json.dumps(out) + "\n")
