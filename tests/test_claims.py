"""gramlib.claims: the rules that turn our tables into verdicts on the paper's claims (08_summary calls them)."""

import math

from gramlib import claims


def t1_row(level, model, acc, mmacs, paper_acc, paper_mmacs):
    return {"model": model, "level_used": level, "accuracy": acc, "mmacs": mmacs, "density": acc / mmacs,
            "paper_accuracy": paper_acc, "paper_mmacs": paper_mmacs, "paper_density": paper_acc / paper_mmacs,
            "epochs": 30, "train_images": 50000, "recipe": "cpu", "final_train_acc": 90.0, "macs_per_param": 20.0}


TABLE1 = [t1_row(0.65, "SwiftNet-0.65", 81.0, 3.0, 85.92, 3), t1_row(0.5, "SwiftNet-0.5", 84.0, 5.0, 88.74, 5),
          t1_row(0.3, "SwiftNet-0.3", 86.0, 36.0, 90.17, 36)]


def t4_row(task, acc, paper_acc, target="paper", status="run", mmacs=0.2):
    return {"task": task, "target": target, "status": status, "accuracy": acc, "paper_accuracy": paper_acc,
            "mmacs": mmacs, "paper_mmacs": 0.23, "active_nodes": 32, "identity_hierarchies": 0, "width": 0.25,
            "target_mmacs": mmacs}


def by_claim(vs, start):
    return [v for v in vs if v["claim"].startswith(start)]


def test_accuracies_near_chance_test_nothing():
    assert claims.informative(25.1) and not claims.informative(25.0) and not claims.informative(math.nan)
    assert not claims.informative(None) and claims.informative(12.0, margin=1.0)
    low = [dict(r, accuracy=18.0) for r in TABLE1]
    (v,) = by_claim(claims.verdicts(low), "Higher pruning level")
    assert v["verdict"] == "cannot test at this scale" and "near chance" in v["evidence"]
    assert not by_claim(claims.verdicts(low), "SwiftNet-0.65 reaches")  # no per-row verdicts at chance
    one_low = [dict(r, accuracy=18.0) if i == 1 else r for i, r in enumerate(TABLE1)]
    (v,) = by_claim(claims.verdicts(one_low), "Higher pruning level")
    named = v["evidence"].split(" near chance")[0]
    assert v["verdict"] == "cannot test at this scale" and named == f"{TABLE1[1]['model']} 18.0 %"  # only that row


def test_table1_order_is_by_macs_when_rows_share_a_level():
    """fit_budgets can give two rows one level at two channel scales: both are in the evidence, ordered by MACs."""
    shared = [t1_row(0.126, "SwiftNet-0.65", 81.0, 3.0, 85.92, 3), t1_row(0.126, "SwiftNet-0.5", 84.0, 4.6, 88.74, 5),
              t1_row(0.089, "SwiftNet-0.3", 86.0, 34.5, 90.17, 36)]
    (v,) = by_claim(claims.verdicts(shared), "Higher pruning level")
    assert v["verdict"] == "supported"
    assert v["evidence"].startswith("largest model first: accuracy 86.00 % at 34.5 M MACs, 84.00 % at 4.6 M MACs, "
                                    "81.00 % at 3.0 M MACs")
    (v,) = by_claim(claims.verdicts([shared[0], dict(shared[1], accuracy=80.0), shared[2]]), "Higher pruning level")
    assert v["verdict"] == "weakened"  # the 4.6 M model below the 3 M one


def test_table1_order_and_gaps():
    vs = claims.verdicts(TABLE1)
    assert by_claim(vs, "Higher pruning level")[0]["verdict"] == "supported"
    gaps = [v["verdict"] for v in vs if "within 5 points (Table 1)" in v["claim"]]
    assert gaps == ["within 5 points", "within 5 points", "within 5 points"]  # 4.92, 4.74, 4.17 points short
    worse = [TABLE1[0], dict(TABLE1[1], accuracy=80.0), TABLE1[2]]  # level 0.5 below level 0.65: not monotone
    vs = claims.verdicts(worse)
    assert by_claim(vs, "Higher pruning level")[0]["verdict"] == "weakened"
    assert by_claim(vs, "SwiftNet-0.5 reaches")[0]["verdict"] == "short by 8.7 points"
    at_size = by_claim(claims.verdicts(TABLE1), "SwiftNet-0.5 reaches")[0]["evidence"]
    assert "not the paper's size" not in at_size
    off_size = claims.verdicts([dict(TABLE1[0], mmacs=TABLE1[0]["paper_mmacs"] * 0.79)])
    assert "not the paper's size: x0.79" in by_claim(off_size, "SwiftNet-0.65 reaches")[0]["evidence"]


def test_short_rows_say_whether_the_model_under_or_over_fits():
    assert claims.fit_diagnosis(80.4, 81.3) == "under-fitted: final training accuracy 81.3 %, 0.9 points above test"
    assert claims.fit_diagnosis(80.0, 85.0).startswith("under-fitted")  # the boundary: 5 points above test
    assert claims.fit_diagnosis(80.0, 97.0).startswith("over-fitted: final training accuracy 97.0 %, 17.0 points")
    assert claims.fit_diagnosis(69.9, 66.2) == "under-fitted: final training accuracy 66.2 %, 3.7 points below test"
    assert claims.fit_diagnosis(80.0, None) == claims.fit_diagnosis(80.0, math.nan) == "final training accuracy not recorded"
    short = dict(TABLE1[0], accuracy=80.35, final_train_acc=81.3)
    (v,) = by_claim(claims.verdicts([short]), "SwiftNet-0.65 reaches")
    assert v["verdict"] == "short by 5.6 points"
    assert "under-fitted: final training accuracy 81.3 %" in v["evidence"] and claims.TABLE1_GAP_DOC in v["evidence"]
    (v,) = by_claim(claims.verdicts([TABLE1[0]]), "SwiftNet-0.65 reaches")  # within 5 points: no diagnosis, no pointer
    assert v["evidence"].endswith("final training accuracy 90.0 %") and "fitted" not in v["evidence"]


def test_speedup_verdicts_from_the_curves():
    base = {"input": 96, "backend": "eager", "paper_speedup": 2.42, "min": 1.1, "max": 3.0}
    sp = [dict(base, points=3, geomean=2.5), dict(base, backend="onnxruntime", points=0, geomean=None, at_least=2.6,
                                                    at_least_points=4),
          dict(base, input=128, points=0, geomean=None, at_least=0.7, at_least_points=2),
          dict(base, input=128, backend="onnxruntime", points=0, geomean=None, at_least_points=0)]
    got = [v["verdict"] for v in by_claim(claims.verdicts(speedups=sp), "SwiftNet is 2.42x")]
    assert got == ["supported", "supported (lower bound)", "not shown (lower bound below 1)", "cannot test at this scale"]
    assert by_claim(claims.verdicts(speedups=[dict(sp[0], geomean=0.8)]), "SwiftNet is")[0]["verdict"] == "contradicted"
    # faster, but by less than the paper's factor: not "supported" (the claim is 2.42x, not "faster")
    (slow,) = by_claim(claims.verdicts(speedups=[dict(sp[0], geomean=1.9)]), "SwiftNet is")
    assert slow["verdict"] == "weakened" and "below the paper's 2.42x" in slow["evidence"]
    (bound,) = by_claim(claims.verdicts(speedups=[dict(sp[1], at_least=1.3)]), "SwiftNet is")
    assert bound["verdict"] == "faster (lower bound below the claimed factor)"
    named = claims.verdicts(speedups=[dict(sp[0], candidates_in_range="SwiftNet-96-0.5-0.25 (58.4 %)")])
    assert by_claim(named, "SwiftNet is")[0]["evidence"].endswith("accuracy range: SwiftNet-96-0.5-0.25 (58.4 %)")
    h = claims.headline(speedups=sp)
    assert h["speedup_96_eager"] == 2.5 and h["speedup_96_onnx"] == 2.6 and h["speedup_128_onnx"] is None


def test_table4_within_one_point_and_what_cannot_run():
    t4 = [t4_row("mnist", 98.94, 99.24), t4_row("fashion-mnist", 90.92, 93.56),
          t4_row("mnist", 99.3, 99.24, target="beyond the paper", mmacs=3.0),
          t4_row("svhn", None, 94.95, status="not run: dataset unavailable")]
    vs = claims.verdicts(table4=t4)
    mnist, fashion = by_claim(vs, "mnist reaches"), by_claim(vs, "fashion-mnist reaches")
    assert mnist[0]["verdict"] == "within 1 point" and "32 convolutions at width 0.25" in mnist[0]["evidence"]
    assert "at 3.00 M MACs: 99.30 %" in mnist[0]["evidence"]
    assert fashion[0]["verdict"] == "short by 2.6 points"
    assert by_claim(vs, "Meta-graph transfers to SVHN")[0]["verdict"] == "cannot test here"
    assert not by_claim(vs, "svhn reaches")
    rows = claims.side_by_side(table4=t4)
    assert [r["quantity"] for r in rows if r["source"] == "Table 4 (beyond the paper)"] == ["mnist accuracy (%) at 3.00 M MACs"]
    svhn = [r for r in rows if r["quantity"] == "svhn accuracy (%)"][0]
    assert svhn["ours"] is None and svhn["ratio"] is None and svhn["note"].startswith("not run")


def test_side_by_side_and_headline_put_ours_beside_the_papers():
    rows = claims.side_by_side(TABLE1, search={"hours_per_1000_iterations": 0.35, "profile": "cpu"})
    acc = [r for r in rows if r["quantity"] == "SwiftNet-0.65 accuracy (%)"][0]
    assert acc["ours"] == 81.0 and acc["paper"] == 85.92 and abs(acc["ratio"] - 81.0 / 85.92) < 1e-12
    assert [r for r in rows if r["quantity"] == "SwiftNet-0.65 MACs/params"][0]["paper"] == 12.0
    assert rows[-1]["quantity"] == "search hours per 1000 iterations" and rows[-1]["paper"] == 8.3
    h = claims.headline(TABLE1, [t4_row("mnist", 98.944, 99.24)], search={"final_entropy": 0.7594,
                                                                        "hours_per_1000_iterations": 0.3515})
    assert h == {"t1_0.65": 81.0, "t1_0.5": 84.0, "t1_0.3": 86.0, "t4_mnist": 98.94, "search_entropy": 0.759,
                 "search_h_per_1000": 0.35}
    assert claims.verdicts() and claims.side_by_side() == []  # nothing produced yet: no claim fails


def test_factor_claims_need_the_factor_not_just_the_direction():
    assert claims._against_factor(2.5, 2.42) == "supported"
    assert claims._against_factor(1.09, 2.15, at_most_1="weakened") == "weakened"
    assert claims._against_factor(0.9, 2.42) == "contradicted"
