"""The paper's claims against our tables: every paper number beside ours, a verdict per claim, a few headline figures.

``notebooks/08_summary.ipynb`` reads the tables the other notebooks wrote and
calls these; the rules that turn numbers into "supported" or "short by 6.4
points" live here, tested, not in notebook cells. Tables come in as lists of
row dicts (``DataFrame.to_dict("records")``); a table that was not produced is
an empty list and its claims are left out.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from . import paper
from .evidence import accuracy_gaps, network_left

Rows = Sequence[Mapping[str, Any]]

#: relative MAC difference beyond which a row is not at the paper's model size (the budget matching's own tolerance)
MACS_TOLERANCE = 0.15
#: percentage points above chance (10 % for 10 classes) before an accuracy says anything about architectures
CHANCE_MARGIN = 15.0
CHANCE = 10.0
#: points by which a final training accuracy (on augmented, label-smoothed batches) may exceed the test accuracy
#: for the model to count as under-fitted: it has learned its training set little better than unseen images
UNDERFIT_POINTS = 5.0
#: where the causes of Table 1's shortfall are measured (training length, filter cap, layout, label smoothing)
TABLE1_GAP_DOC = "docs/interpretation.md, \"Table 1's gap to the paper\""


def informative(accuracy: float | None, *, chance: float = CHANCE, margin: float = CHANCE_MARGIN) -> bool:
    """Whether an accuracy (%) is far enough above chance for a comparison between models to count."""
    return accuracy is not None and accuracy == accuracy and accuracy > chance + margin


def _near_chance(rows: list[dict[str, Any]], key: str) -> str:
    """The rows whose accuracy is not :func:`informative`, named: "MobileNetV2-0.35 17.1 %" (only those)."""
    return ", ".join(f"{r.get('model', '?')} {r[key]:.1f} %" for r in rows if not informative(r[key]))


def fit_diagnosis(test_accuracy: float, final_train_accuracy: float | None, *,
                  underfit_points: float = UNDERFIT_POINTS) -> str:
    """Whether a trained model under- or over-fits, from its final training accuracy against its test accuracy (%).

    E.g. "under-fitted: final training accuracy 81.3 %, 0.9 points above test" or "over-fitted: final training
    accuracy 97.0 %, 12.0 points above test"; "final training accuracy not recorded" without the number. Short
    runs on augmented, label-smoothed batches can end below test: "... 3.7 points below test".
    """
    if not _finite(final_train_accuracy) or not _finite(test_accuracy):
        return "final training accuracy not recorded"
    above = final_train_accuracy - test_accuracy
    kind = "under-fitted" if above <= underfit_points else "over-fitted"
    side = f"{above:.1f} points above test" if above >= 0 else f"{-above:.1f} points below test"
    return f"{kind}: final training accuracy {final_train_accuracy:.1f} %, {side}"


def _finite(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def side_by_side(table1: Rows = (), table4: Rows = (), table2: Rows = (), table3: Rows = (),
                 search: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every paper number beside ours: one row per quantity (source, quantity, ours, paper, ratio, note)."""
    rows: list[dict[str, Any]] = []

    def add(where: str, what: str, ours: Any, theirs: Any, note: str = "") -> None:
        ok = _finite(ours) and theirs is not None
        rows.append({"source": where, "quantity": what, "ours": ours, "paper": theirs,
                     "ratio": (ours / theirs) if ok and theirs else None, "note": note})

    for r in table1:
        add("Table 1", f"{r['model']} accuracy (%)", r["accuracy"], r["paper_accuracy"])
        add("Table 1", f"{r['model']} MACs (M)", r["mmacs"], r["paper_mmacs"])
        add("Table 1", f"{r['model']} density", r["density"], r["paper_density"])
        if r["model"] == "SwiftNet-0.65" and "macs_per_param" in r:  # the one parameter count the paper gives (§4.2)
            add("Table 1", "SwiftNet-0.65 MACs/params", r["macs_per_param"],
                paper.TABLE1[0]["mmacs"] * 1e6 / paper.CLAIMS["swiftnet_0_65_params"], "paper: 3 M MACs and 250 k parameters")
    for r in table4:
        run = r.get("status") == "run"
        if r["target"] != "paper":  # beyond the paper: the same task at a larger budget, for the cause of a gap
            if run:
                add("Table 4 (beyond the paper)", f"{r['task']} accuracy (%) at {r['mmacs']:.2f} M MACs", r["accuracy"],
                    r["paper_accuracy"], f"the paper's model has {r['paper_mmacs']:g} M MACs")
            continue
        add("Table 4", f"{r['task']} accuracy (%)", r.get("accuracy") if run else None, r.get("paper_accuracy"),
            network_left(r) if run else r.get("status", ""))
        add("Table 4", f"{r['task']} MACs (M)", r.get("mmacs") if run else None, r.get("paper_mmacs"))
    for r in table3:
        add("Table 3 (Imagenette stand-in)", f"{r['model']} top-1 (%)", r["top1"], r["paper_top1"], "10 classes vs 1000")
        add("Table 3 (Imagenette stand-in)", f"{r['model']} MACs (M)", r["mmacs"], r["paper_mmacs"])
        add("Table 3 (Imagenette stand-in)", f"{r['model']} params (M)", r["mparams"], r["paper_mparams"])
    for r in table2:
        add("Table 2 (Imagenette stand-in)", f"{r['model']} top-1 (%)", r["top1"], r["paper_top1"],
            "" if _finite(r["top1"]) else "paper only")
        add("Table 2 (Imagenette stand-in)", f"{r['model']} latency (ms)", r["latency_ms_1t"], r["paper_latency_ms_pixel1"],
            "ours: CPU 1 thread; paper: Pixel 1")
    if search:
        add("§4.2", "search hours per 1000 iterations", search["hours_per_1000_iterations"], paper.CLAIMS["search_gpu_hours"],
            f"ours: 2-core CPU, profile {search['profile']}; paper: GTX 1080, full space")
    return rows


def _against_factor(value: float, claimed: float, at_most_1: str = "contradicted") -> str:
    """A claim of "x-fold better": supported at the claimed factor or more, weakened if better by less."""
    return "supported" if value >= claimed else "weakened" if value > 1 else at_most_1


def verdicts(table1: Rows = (), table4: Rows = (), table2: Rows = (), *, figure5: Mapping[str, Any] | None = None,
             search: Mapping[str, Any] | None = None, speedups: Rows = ()) -> list[dict[str, Any]]:
    """A verdict per claim of the paper (claim, verdict, evidence), from our tables and metrics.

    Args:
        table1, table4, table2: the rows of ``table1.csv``, ``table4.csv``, ``table2.csv``.
        figure5: ``03_figure5_pruning.metrics.json``.
        search: ``01_search.metrics.json``.
        speedups: ``speedup_equal_accuracy`` of ``06_imagenet_tables2_3.metrics.json``.
    """
    out: list[dict[str, Any]] = []

    def verdict(claim: str, status: str, why: str) -> None:
        out.append({"claim": claim, "verdict": status, "evidence": why})

    # 1. pruning yields a range of model sizes, monotone in the level
    if figure5:
        verdict("Structure-level pruning produces a range of model sizes (Fig. 5)",
                "supported" if figure5["monotone"] and figure5["mmacs_level0"] > 3 * figure5["mmacs_level1"] else "weakened",
                f"MACs fall monotonically from {figure5['mmacs_level0']:.1f} M (level 0) to {figure5['mmacs_level1']:.1f} M (level 1)")
    # 2. Table 1: accuracy falls and density rises as the level rises; each row against the paper's accuracy
    # largest model first: the paper's rows differ by level alone, ours may also differ by channel scale (fit_budgets),
    # and two rows can share a level (a 3 M model and its x1.25 at 5 M), so MACs, not the level, order them
    t1 = sorted(table1, key=lambda r: -r["mmacs"])
    claim = "Higher pruning level: fewer MACs, lower accuracy, higher density (Table 1)"
    if t1 and not all(informative(r["accuracy"]) for r in t1):
        verdict(claim, "cannot test at this scale",
                f"{_near_chance(t1, 'accuracy')} near chance, of accuracies {[round(r['accuracy'], 1) for r in t1]} "
                f"({int(table1[0]['epochs'])} epochs on {int(table1[0]['train_images'])} images)")
    elif t1:
        acc = [r["accuracy"] for r in t1]
        dens = [r["density"] for r in t1]
        monotone = all(a >= b for a, b in zip(acc, acc[1:])) and all(a <= b for a, b in zip(dens, dens[1:]))
        verdict(claim, "supported" if monotone else "weakened",
                "largest model first: accuracy " + ", ".join(f"{r['accuracy']:.2f} % at {r['mmacs']:.1f} M MACs" for r in t1)
                + "; density " + ", ".join(f"{r['density']:.2f}" for r in t1))
        for g, r in zip(accuracy_gaps(table1), table1):
            off = r["mmacs"] / r["paper_mmacs"] if r.get("paper_mmacs") else math.nan
            at = f"{r['mmacs']:.1f} M MACs (paper {r['paper_mmacs']:g} M" + (
                f"; not the paper's size: x{off:.2f})" if off == off and abs(off - 1) > MACS_TOLERANCE else ")")
            verdict(f"{g['model']} reaches the paper's CIFAR-10 accuracy within 5 points (Table 1)", g["verdict"],
                    f"{g['ours']:.2f} % vs {g['paper']:.2f} % at {at}; "
                    f"{int(r['epochs'])} epochs ({r.get('recipe', '?')} recipe) on {int(r['train_images'])} JPEG-copy images; "
                    + (f"{fit_diagnosis(r['accuracy'], r.get('final_train_acc'))}; causes measured at cpu scale in "
                       f"{TABLE1_GAP_DOC}" if g["verdict"].startswith("short")
                       else f"final training accuracy {r.get('final_train_acc', math.nan):.1f} %"))
    # 3. SwiftNet vs MobileNetV2 density and latency at similar accuracy (Table 2)
    t2 = [r for r in table2 if _finite(r.get("top1"))]
    if len(t2) >= 2 and not all(informative(r["top1"]) for r in t2):
        verdict("SwiftNet vs MobileNetV2-0.35: accuracy density and latency at similar accuracy (Table 2, Fig. 6)",
                "cannot test at this scale",
                f"{_near_chance(t2, 'top1')} near chance on the stand-in, of top-1 {[round(r['top1'], 1) for r in t2]}")
    elif len(t2) >= 2:
        sw = next(r for r in t2 if r["model"].startswith("SwiftNet"))
        mb = next(r for r in t2 if r["model"].startswith("MobileNet"))
        ratio = (sw["top1"] / sw["mmacs"]) / (mb["top1"] / mb["mmacs"])
        verdict("SwiftNet has higher accuracy density than MobileNetV2-0.35 (2.15x claimed)",
                _against_factor(ratio, 2.15, at_most_1="weakened"),
                f"density ratio {ratio:.2f} on the stand-in ({sw['ours_model']} vs {mb['ours_model']})")
        verdict("SwiftNet is faster than MobileNetV2-0.35 at similar accuracy (2.42x claimed, Pixel 1)",
                _against_factor(mb["latency_ms_1t"] / sw["latency_ms_1t"], 2.42, at_most_1="weakened")
                if sw["top1"] >= mb["top1"] - 1 else "weakened",
                f"CPU 1 thread: {sw['latency_ms_1t']:.2f} ms at {sw['top1']:.1f} % vs {mb['latency_ms_1t']:.2f} ms at {mb['top1']:.1f} %")
    # 3b. the headline: speed-up over MobileNetV2 at equal accuracy, from the two accuracy-latency curves (06)
    for r in speedups:
        where = f"input {r['input']} ({r['backend']}, 1 thread)"
        claim = (f"SwiftNet is {r['paper_speedup']:g}x faster than MobileNetV2 at equal accuracy, {where}"
                 if r.get("paper_speedup") else f"SwiftNet is faster than MobileNetV2 at equal accuracy, {where}")
        claimed = r.get("paper_speedup") or 1.0  # the claim is the paper's factor, not merely "faster"
        if r["points"]:
            inside = r.get("candidates_in_range")
            g = r["geomean"]
            verdict(claim, _against_factor(g, claimed),
                    f"{g:.2f}x (geometric mean of {r['points']} points where the curves overlap; "
                    f"{r['min']:.2f}-{r['max']:.2f}x)"
                    + (f"; faster, but below the paper's {claimed:g}x" if 1 < g < claimed else "")
                    + (f"; SwiftNets inside MobileNetV2's accuracy range: {inside}" if inside else ""))
        elif r.get("at_least_points"):
            b = r["at_least"]
            verdict(claim, "supported (lower bound)" if b >= claimed else
                    "faster (lower bound below the claimed factor)" if b > 1 else "not shown (lower bound below 1)",
                    f"the curves do not overlap in accuracy: at least {b:.2f}x (geometric mean of "
                    f"{r['at_least_points']} bounds, if latency rises with accuracy beyond the measured models)")
        else:
            verdict(claim, "cannot test at this scale", "the curves do not overlap in accuracy and bound nothing")
    # 3c. Table 4: accuracy at the paper's MACs for each task, and what the budget left of the network
    t4p = [r for r in table4 if r["target"] == "paper"]
    for g, r in zip(accuracy_gaps(t4p, label="task", tolerance_points=1.0), t4p):
        if g["verdict"] == "not run":
            continue
        why = f"{g['ours']:.2f} % vs {g['paper']:.2f} % at {r['mmacs']:.2f} M MACs (paper {r['paper_mmacs']:g} M)"
        why += f"; the pruned network: {network_left(r)}"
        why += "".join(f"; the same meta-graph at {b['mmacs']:.2f} M MACs: {b['accuracy']:.2f} %" for b in table4
                       if b["task"] == r["task"] and b["target"] != "paper" and b.get("status") == "run")
        verdict(f"{r['task']} reaches the paper's accuracy within 1 point at its MACs (Table 4)",
                g["verdict"] if informative(g["ours"]) else "cannot test at this scale", why)
    # 4. what cannot be tested on this machine
    sv = [r for r in t4p if r["task"] == "svhn"]
    if sv and sv[0].get("status") != "run":
        verdict("Meta-graph transfers to SVHN (Table 4)", "cannot test here", "SVHN cannot be downloaded on this machine")
    verdict("ImageNet-1K numbers (Tables 2-3)", "cannot test here",
            "ImageNet-1K is not available; Imagenette (10 classes) stands in")
    verdict("Search cost 8.3 GPU-hours", "cannot compare directly",
            f"ours {search.get('hours_per_1000_iterations', math.nan):.2f} h per 1000 iterations on 2 CPU cores, "
            f"profile {search.get('profile')}" if search else "no search metrics")
    return out


def headline(table1: Rows = (), table4: Rows = (), *, search: Mapping[str, Any] | None = None,
             speedups: Rows = ()) -> dict[str, Any]:
    """A dozen numbers that say where the replication stands, flat and short-keyed, for ``dvc metrics show``:
    Table 1 and Table 4 accuracies, the search's final entropy and cost, the speed-up at equal accuracy."""
    h: dict[str, Any] = {}
    for r in table1:
        h[f"t1_{r['model'].removeprefix('SwiftNet-')}"] = _round(r["accuracy"])
    for r in table4:
        if r["target"] == "paper" and r.get("status") == "run":
            h[f"t4_{r['task']}"] = _round(r["accuracy"])
    if search:
        h["search_entropy"] = _round(search.get("final_entropy"), 3)
        h["search_h_per_1000"] = _round(search.get("hours_per_1000_iterations"), 2)
    for r in speedups:
        value = r["geomean"] if r["points"] else r.get("at_least", math.nan)
        h[f"speedup_{r['input']}_{'onnx' if 'onnx' in str(r['backend']).lower() else 'eager'}"] = _round(value, 2)
    return h


def _round(x: Any, digits: int = 2) -> float | None:
    return round(float(x), digits) if _finite(x) else None
