"""MNIST at Table 4's 0.23 M MACs on the committed cpu meta-graph, at one width, augmentation and length: a probe of
what costs the half-point below 99 % (README, "Table 4 at the cpu scale"). Prints one JSON line (also appended to
/tmp/probe/mnist.jsonl); checkpoints in /tmp/probe/ckpt, so a rerun of the same settings only evaluates.

    python benchmarks/mnist_width.py WIDTH AUGMENT EPOCHS [pad=P] [FIELD=VALUE ...]   # AUGMENT: none | crop | crop_flip;
        # pad: Recipe.crop_pad, the random crop's padding (the recipes' 4); seed: data order and crops (the model's init too); FIELD: any Recipe field, e.g. weight_decay=5e-5
    python benchmarks/mnist_width.py 0.35 crop 60          # 98.64 % on 2026-11-28 (733 s, AMD EPYC)
    python benchmarks/mnist_width.py 0.5 none 60           # 98.84 % on 2026-11-28 (final training accuracy 99.97 %)
    python benchmarks/mnist_width.py 0.5 crop 60 pad=2     # 99.04 % on 2026-11-28 (99.14 %; seed=1: 99.07 / 99.07 %)
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
extra = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[4:])}
pad, seed = extra.pop("pad", 4), extra.pop("seed", 0)
mg = MetaGraph.load("results/cpu/search_run/metagraph.json")
(pick,) = levels_for_budgets(mg, [0.23], levels=level_grid(61), input_shape=(1, 28, 28), scale=w)
arch = mg.prune(pick["level"]).scale_channels(w)
tr, te = load_train_test("mnist", seed=0)
rec = recipe_with("cpu", epochs=ep, augment=aug, crop_pad=pad, **extra)
t = time.time()
tag = "".join(f"-{k}{v}" for k, v in sorted({**extra, **({"pad": pad} if pad != 4 else {}), **({"seed": seed} if seed else {})}.items()))
key = {"arch": arch.to_dict(), "in": 1}  # table4's key: the same settings are the stage's run (and checkpoint name)
r = fit_and_score(f"mnist-w{w}-{aug}-{ep}{tag}", lambda: build_model(arch, 10, 1), tr, te, rec, key=key,
                  seed=seed, ckpt_dir="/tmp/probe/ckpt", latency_runs=3, progress=False)
Path("/tmp/probe").mkdir(parents=True, exist_ok=True)
out = {"width": w, "augment": aug, "epochs": ep, "pad": pad, "seed": seed, **extra, "level": pick["level"], "mmacs": r["mmacs"], "mparams": r.get("mparams"),
       "top1": r["top1"], "final_train_acc": r.get("final_train_acc"), "s": round(time.time() - t)}
print(json.dumps(out)); open("/tmp/probe/mnist.jsonl", "a").write(json.dumps(out) + "\n")
