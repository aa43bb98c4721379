"""Checks of what the notebook pipeline wrote, for every scale whose run is complete under results/.

CI runs the smoke scale through dvc.yaml before these tests; the committed quick results are checked too.
"""

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest

from gramlib import paper
from gramlib.architecture import Architecture
from gramlib.model import build_model
from gramlib.pipeline import ROOT, load_params, notebooks_at
from gramlib.profiling import count_cost
from gramlib.shape import level_grid

RESULTS = ROOT / "results"
SCALES = sorted(p.parent.parent.name for p in RESULTS.glob("*/notebooks/08_summary.ipynb"))
pytestmark = pytest.mark.skipif(not SCALES, reason="no complete pipeline run under results/")


@pytest.fixture(params=SCALES)
def scale(request):
    return request.param


def fvcore_mmacs(arch_file, classes=10, channels=3, input_size=32):
    arch = Architecture.load(arch_file)
    return count_cost(build_model(arch, classes, channels, input_size=input_size), (channels, input_size, input_size)).mmacs


def test_every_notebook_rendered_without_error(scale):
    for name in notebooks_at(scale):  # every notebook that runs at the scale, 09_evidence included at cpu and smoke
        nb = json.loads((RESULTS / scale / "notebooks" / f"{name}.ipynb").read_text())
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[:1]}"
        assert nb["metadata"]["papermill"]["parameters"]["scale"] == scale
        # committed as rendered, not stripped: a `nbstripout --install` in a clone once filtered every results/
        # notebook through the source notebooks' clean filter, and git held them without a single output
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c.get("execution_count") for c in code), f"{name}: cells without an execution count (stripped?)"
        stamp = "".join("".join(o.get("text", "")) for c in code for o in c.get("outputs", []) if o.get("output_type") == "stream")
        assert f"scale: {scale}" in stamp and "'commit':" in stamp and "'cpu_count':" in stamp, f"{name}: no run stamp"


def test_figures_and_metrics_exist(scale):
    r = RESULTS / scale
    for png in ["01_search/convergence.png", "02_figure3_architecture/figure3.png", "03_figure5_pruning/figure5.png",
                "04_table1_cifar10/table1.png", "06_imagenet_tables2_3/figure6.png", "07_figures1_4_density/figure1_4.png"]:
        assert (r / png).stat().st_size > 5000, png
    for m in ["01_search", "03_figure5_pruning", "04_table1_cifar10", "05_table4_transfer", "06_imagenet_tables2_3"]:
        assert json.loads((r / f"{m}.metrics.json").read_text())


def test_search_curve(scale):
    curve = pd.read_csv(RESULTS / scale / "01_search.curve.csv")
    assert len(curve) == load_params(scale)["search"]["iterations"]
    assert curve.accuracy.dropna().between(0, 1).all() and (curve.mmacs > 0).all()


def test_figure5_profile(scale):
    prof = pd.read_csv(RESULTS / scale / "03_figure5_pruning.profile.csv")
    assert list(prof.level) == level_grid(load_params(scale)["figure5"]["grid_points"])
    assert prof.mmacs.iloc[0] == prof.mmacs.max()  # level 0 is the complete meta-graph: nothing is larger
    m = json.loads((RESULTS / scale / "03_figure5_pruning.metrics.json").read_text())
    assert m["monotone"] == bool((prof.mmacs.diff().dropna() <= 1e-9).all())


def test_table1_rows_and_macs(scale):
    t = pd.read_csv(RESULTS / scale / "04_table1_cifar10" / "table1.csv")
    assert list(t.model) == [r["model"] for r in paper.TABLE1]
    assert list(t.paper_accuracy) == [r["accuracy"] for r in paper.TABLE1]
    assert t.accuracy.between(0, 100).all()
    for row in t.itertuples():
        assert row.mmacs == pytest.approx(fvcore_mmacs(RESULTS / scale / "04_table1_cifar10" / "archs" / f"{row.model}.json"), rel=1e-9)
        assert row.density == pytest.approx(row.accuracy / row.mmacs)
        assert row.macs_per_param == pytest.approx(row.mmacs / row.mparams)
        if scale != "smoke":  # the paper's shape: its MACs within 1.5x, MACs/params between 10 and 30 (paper ~12)
            if scale == "quick" and not 1 / 1.5 <= row.mmacs / row.paper_mmacs <= 1.5:
                # quick's short search (120 iterations) can leave a cliff at a budget (a Xeon run: 0.64 M, then 4.65 M);
                # allowed only if Figure 5's profile has no model within 1.5x and the summary says the size is off
                assert_no_model_nearer(scale, row.paper_mmacs, row.model)
                continue
            assert 1 / 1.5 <= row.mmacs / row.paper_mmacs <= 1.5, (row.model, row.mmacs)
            if (scale, row.model) in NOT_THE_PAPERS_SHAPE:  # a known deviation, kept visible: fails once it is fixed
                assert row.macs_per_param > 30, f"{row.model} is now the paper's shape: drop it from NOT_THE_PAPERS_SHAPE"
            else:
                assert 10 <= row.macs_per_param <= 30, (row.model, row.macs_per_param)


def assert_no_model_nearer_in_profile(scale: str, budget_mmacs: float, what: str = "") -> None:
    prof = pd.read_csv(RESULTS / scale / "03_figure5_pruning.profile.csv")
    ratio = np.exp(np.abs(np.log(prof.mmacs / budget_mmacs)))
    assert ratio.min() > 1.5, f"{what}: the pruning profile has a model within 1.5x of {budget_mmacs} M MACs"


def assert_no_model_nearer(scale: str, budget_mmacs: float, model: str) -> None:
    assert_no_model_nearer_in_profile(scale, budget_mmacs, model)
    verdicts = pd.read_csv(RESULTS / scale / "08_summary" / "verdicts.csv")
    said = verdicts[verdicts.claim.str.startswith(f"{model} reaches")]
    assert len(said) and "not the paper's size" in said.evidence.iloc[0], model


#: Table 1 rows whose MACs/params (38-50) are not the paper's (~12): README "Table 1 at the cpu scale", docs/interpretation.md
NOT_THE_PAPERS_SHAPE = {("cpu", "SwiftNet-0.5"), ("cpu", "SwiftNet-0.4"), ("cpu", "SwiftNet-0.3")}


def paper_rows(table4: pd.DataFrame) -> pd.DataFrame:
    """Table 4's rows at the paper's budgets (not the rows at larger budgets beyond the paper), indexed by task."""
    return table4[table4.target == "paper"].set_index("task")


def test_table4_rows(scale):
    t = pd.read_csv(RESULTS / scale / "05_table4_transfer" / "table4.csv")
    assert set(t.task) == {r["task"] for r in paper.TABLE4}
    assert len(paper_rows(t)) == len(paper.TABLE4)  # one row per task at the paper's MACs
    for row in t.itertuples():
        suffix = "" if row.target == "paper" else f"-{row.target_mmacs:g}M"
        arch_file = RESULTS / scale / "05_table4_transfer" / f"swiftnet-{row.task}{suffix}.json"
        if row.status == "run":
            assert 0 <= row.accuracy <= 100
            ch, size = (1, 28) if row.task in ("mnist", "fashion-mnist") else (3, 32)
            assert row.mmacs == pytest.approx(fvcore_mmacs(arch_file, 10, ch, size), rel=1e-9)
        else:
            assert row.status.startswith("not run") and pd.isna(row.accuracy)  # never invented


def test_part_stages_recorded_their_rows_and_the_notebooks_read_them(scale):
    """Where a part stage ran (gramlib.parts), its part.json names what params.yaml's part_rows asked for, every row
    it lists has its record, and the table's notebook reports each of those rows as trained in an earlier stage."""
    from fnmatch import fnmatch

    found = 0
    for name, section, table in [("04_table1_cifar10", "table1", "04_table1_cifar10/table1.csv"),
                                 ("06_imagenet_tables2_3", "imagenet", "06_imagenet_tables2_3/latency_1thread.csv")]:
        f = RESULTS / scale / f"{name}.part" / "part.json"
        if not f.exists():  # a run from before the part stages (results/cpu, rendered at 916ba12)
            continue
        found += 1
        part = json.loads(f.read_text())
        asked = load_params(scale)[section].get("part_rows")
        assert part["part_rows"] == asked
        assert (asked is None) == (part["rows"] == []) and all(fnmatch(m, asked) for m in part["rows"])
        assert set(part["rows"]) <= set(pd.read_csv(RESULTS / scale / table).model)
        for m in part["rows"]:
            assert list((f.parent).glob(f"{m}-*.json")), m
        text = (RESULTS / scale / "notebooks" / f"{name}.ipynb").read_text()
        rendered = json.loads(text)["metadata"].get("gramlib", {}).get("started", "")
        if rendered < part["started"]:  # the notebook's stage has not run since its part (results/cpu's Table 1)
            continue
        for m in part["rows"]:  # this row's own line says so (a row trained again would print its img/s instead)
            assert re.search(rf"{re.escape(m)}: top-1[^\n\"]*in an earlier stage", text), m
    if scale == "smoke":  # CI's run exercises both part stages
        assert found == 2


def test_search_part_ran_the_random_twin_the_search_notebook_read(scale):
    """search_part@<scale> (gramlib.parts): its part.json lists the twin where params.yaml asks for it, the twin's
    folder holds the search's iterations, and the search notebook rendered after it read the twin from there."""
    f = RESULTS / scale / "01_search.part" / "part.json"
    if not f.exists():  # a search rendered before search_part existed (results/cpu's, on the EPYC)
        assert scale != "smoke", "CI's run exercises search_part"
        return
    prm = load_params(scale)["search"]
    part = json.loads(f.read_text())
    assert part["part_rows"] == prm["part_rows"] and part["rows"] == (["random"] if prm["part_rows"] else [])
    text = (RESULTS / scale / "notebooks" / "01_search.ipynb").read_text()
    if part["rows"]:
        (twin,) = f.parent.glob("random-*/history.jsonl")
        assert len(twin.read_text().splitlines()) >= prm["iterations"]
        if json.loads(text)["metadata"].get("gramlib", {}).get("started", "") >= part["started"]:
            assert f"random twin: results/{scale}/01_search.part/{twin.parent.name}" in text


def test_table3_rows_and_macs(scale):
    p = load_params(scale)["imagenet"]
    t = pd.read_csv(RESULTS / scale / "06_imagenet_tables2_3" / "table3.csv")
    want = set(itertools.product(p["sizes"], p["levels"], p["scales"]))
    assert set(zip(t.input, t.level, t.scale)) == want
    paper_keys = {(r["input"], r["level"], r["scale"]) for r in paper.TABLE3}
    if scale == "cpu":  # every input size and level of the paper's table; up-scaling 1.25 is sized out (params.yaml)
        assert {(i, l) for i, l, _ in paper_keys} <= {(i, l) for i, l, _ in want} and {1.0, 1.5} <= set(p["scales"])
    for row in t.itertuples():
        f = RESULTS / scale / "06_imagenet_tables2_3" / f"{row.model}.json"
        assert row.mmacs == pytest.approx(fvcore_mmacs(f, 10, 3, row.input), rel=1e-9)
        assert 0 <= row.top1 <= row.top5 <= 100
        if scale != "smoke" and p.get("at_paper_macs") and "level_used" in t.columns:  # pruned to the paper's size
            assert 1 / 1.5 <= row.mmacs / row.paper_mmacs <= 1.5, (row.model, row.mmacs, row.paper_mmacs)
    t2 = pd.read_csv(RESULTS / scale / "06_imagenet_tables2_3" / "table2.csv")
    assert list(t2.model) == [r["model"] for r in paper.TABLE2]


def test_imagenet_latency_is_one_measurement_per_model(scale):
    """Tables 2-3 report the side-by-side 1-thread latencies the speed-up uses (one figure per model), and the
    thinned curve-only SwiftNets (``thin_scales``) are measured there but are not Table 3 rows."""
    p = load_params(scale)["imagenet"]
    d = RESULTS / scale / "06_imagenet_tables2_3"
    lat = pd.read_csv(d / "latency_1thread.csv")
    eager = lat[lat.backend == "eager"].set_index("model").latency_ms
    t3 = pd.read_csv(d / "table3.csv")
    assert np.allclose(t3.latency_ms_1t, eager.loc[t3.model])
    t2 = pd.read_csv(d / "table2.csv").dropna(subset=["ours_model"])
    assert np.allclose(t2.latency_ms_1t, eager.loc[t2.ours_model])
    thin = {f"SwiftNet-{size}-{p['levels'][0]}-{s:.2f}" for size in p["sizes"] for s in p["thin_scales"]}
    assert thin <= set(eager.index) and not thin & set(t3.model)
    for m in thin:  # the file the stage wrote is the model it measured: thinner than the row it comes from
        assert fvcore_mmacs(d / f"{m}.json", 10, 3, int(m.split("-")[1])) < t3.set_index("model").mmacs.min()


def test_summary_lists_paper_numbers(scale):
    s = pd.read_csv(RESULTS / scale / "08_summary" / "summary.csv")
    assert {"Table 1", "Table 4"} <= set(s.source)
    both = s.dropna(subset=["ours", "paper"])
    assert (both.ratio - both.ours / both.paper).abs().max() < 1e-9
    v = pd.read_csv(RESULTS / scale / "08_summary" / "verdicts.csv")
    fixed = {"supported", "supported (lower bound)", "faster (lower bound below the claimed factor)", "not shown (lower bound below 1)", "contradicted", "weakened", "cannot test here", "cannot test at this scale",
             "cannot compare directly"}
    gaps = v.verdict.str.fullmatch(r"within \d+ points?|short by \d+(\.\d)? points|above the paper|not run")
    assert (v.verdict.isin(fixed) | gaps).all(), set(v.verdict)


def runs_at(scale, notebook):
    if notebook not in notebooks_at(scale):
        pytest.skip(f"{notebook} does not run at {scale} (params.yaml `studies`)")


def test_evidence_models_have_matched_macs_and_exports_agree(scale):
    runs_at(scale, "09_evidence")
    d = RESULTS / scale / "09_evidence"
    agg = pd.read_csv(d / "pruning_vs_width.csv")
    matched = agg[agg.model.str.endswith("(width)")]
    assert ((matched.mmacs_vs_target - 1).abs() <= 0.10).all(), matched[["model", "mmacs_vs_target"]]
    pruned = agg[agg.model.str.endswith("(pruned)")].iloc[0]
    arch = next(d.glob("SwiftNet-*-(pruned).json"))
    assert pruned.mmacs == pytest.approx(fvcore_mmacs(arch), rel=1e-9)
    lat = pd.read_csv(d / "latency.csv")
    assert (lat.latency_ms > 0).all() and lat.max_abs_diff.max() < 1e-4
    assert {"eager", "torchscript"} <= set(lat.backend)
    finals = pd.read_csv(d / "gram_vs_random.csv")
    assert set(finals["mode"]) == {"gram", "random"} and finals.test_top1.between(0, 100).all()


PROXY_SCALES = sorted(p.parent.name for p in RESULTS.glob("*/10_proxy.metrics.json"))


@pytest.mark.skipif(not PROXY_SCALES, reason="no proxy study under results/")
@pytest.mark.parametrize("proxy_scale", PROXY_SCALES)
def test_proxy_study_rows_and_recommendation(proxy_scale):
    prm = load_params(proxy_scale)["proxy"]
    t = pd.read_csv(RESULTS / proxy_scale / "10_proxy" / "proxy_signal.csv")
    assert list(t.proxy) == ["default", *prm["variants"]]
    hours = t[f"hours_per_{prm['iterations']}"]
    assert (hours - t.seconds_per_candidate * prm["iterations"] / 3600).abs().max() < 1e-9
    work = 3 * t.train_images * t.epochs + t.val_images
    assert (t.cost_ratio - work / work[t.proxy == "default"].iloc[0]).abs().max() < 1e-9
    assert (t.within_cost_target == (t.cost_ratio <= prm["max_cost_ratio"])).all()
    assert t.icc.dropna().le(1).all() and t.kendall_tau_vs_reference.dropna().between(-1, 1).all()
    ok = t[t.within_cost_target]
    col = {"icc": "icc", "tau": "kendall_tau_vs_reference"}[prm["select_by"]]
    assert t.recommended.sum() == (1 if len(ok) else 0)
    if len(ok):
        assert t[t.recommended][col].iloc[0] == ok[col].max()
    metrics = json.loads((RESULTS / proxy_scale / "10_proxy.metrics.json").read_text())
    assert metrics["recommended"] == (t[t.recommended].proxy.iloc[0] if len(ok) else None)
    assert len(metrics["reference_top1"]) == min(prm["reference_archs"], prm["archs"])
    if metrics["confirmation"]:  # the pick re-measured on fresh architectures, against the default
        assert [c["proxy"] for c in metrics["confirmation"]] == ["default", metrics["recommended"]]
        assert all(c["archs"] == prm["confirm_archs"] for c in metrics["confirmation"])


@pytest.mark.skipif(not (RESULTS / "cpu" / "10_proxy.metrics.json").exists(), reason="no cpu proxy study")
def test_cpu_searches_train_candidates_on_the_proxy_its_study_recommends():
    """The search and the evidence's searches read their proxy from params.yaml, not from the study's output (a dvc
    dependency on it would make every scale's search wait for a rerun of proxy@cpu after any change of src/); this
    keeps them in step with the study."""
    from gramlib.pipeline import recommended_proxy_at

    name, settings = recommended_proxy_at("cpu")
    prm = load_params("cpu")
    assert prm["search"]["proxy"] == settings, f"proxy@cpu recommends {name}: {settings}"
    assert prm["evidence"]["search_proxy"] == settings, f"proxy@cpu recommends {name}: {settings}"


def test_shape_tables(scale):
    runs_at(scale, "11_shape")
    p = load_params(scale)["shape"]
    sizes = pd.read_csv(RESULTS / scale / "11_shape" / "layout_sizes.csv")
    assert len(sizes) == len(p["layouts"]) * len(p["budgets_mmacs"])
    assert set(sizes.layout) == set(p["layouts"])
    by = sizes.groupby("layout").macs_per_param.median()
    if {"pool-between", "stem2-pool-before"} <= set(by.index):
        # a convolution's MACs/params is its output area (16x lower at 1/4 the side), diluted by the classifier and
        # the budget's level: 3.8x lower on the from-scratch cpu meta-graph of 916ba12 (32 against 122), 4-5x before
        assert by["stem2-pool-before"] < by["pool-between"] / 3
    trained = pd.read_csv(RESULTS / scale / "11_shape" / "layout_training.csv")
    assert set(trained.layout) == set(p["layouts"]) and trained.accuracy.between(0, 100).all()
    refs = pd.read_csv(RESULTS / scale / "11_shape" / "pruning_references.csv")
    assert set(refs.reference) == set(p["references"])


CPU = RESULTS / "cpu"


@pytest.mark.skipif(not (CPU / "03_figure5_pruning" / "level_for_budget.csv").exists(), reason="no cpu-scale run")
def test_cpu_scale_models_are_the_papers_size_and_the_metagraph_learned():
    """The committed cpu run: Table 1's budgets reached within 1.5x by pruning alone, except across a cliff of the
    profile (no level's model within 1.5x), where Table 1's fit (pruning and a channel scale) lands within 10 %; a
    learned meta-graph."""
    t1 = pd.read_csv(CPU / "03_figure5_pruning" / "level_for_budget.csv")
    assert list(t1.budget_mmacs) == [r["mmacs"] for r in paper.TABLE1]
    for row in t1[~(t1.mmacs / t1.budget_mmacs).between(1 / 1.5, 1.5)].itertuples():
        assert_no_model_nearer_in_profile("cpu", row.budget_mmacs)  # a cliff: 7.2 -> 2.0 M at the 3 M budget
    fit = pd.read_csv(CPU / "03_figure5_pruning" / "table1_fit.csv")
    assert list(fit.budget_mmacs) == list(t1.budget_mmacs) and fit.within_tolerance.all(), fit
    assert ((fit.scale == 1.0) == (fit.rule == "pruning alone")).all() and fit.identity_hierarchies.eq(0).all()
    # paper ~12; ours 25 / 25 / 40 / 50 (916ba12's from-scratch meta-graph; 21-45 before): a guard against the
    # 220-341 of the first layouts, not a claim of the paper's shape (docs/interpretation.md)
    assert t1.macs_per_param.between(10, 60).all()
    t4 = pd.read_csv(CPU / "03_figure5_pruning" / "level_for_budget_table4.csv").set_index("task")
    for task in ("fashion-mnist", "svhn"):  # MNIST's 0.23 M lies below the smallest non-identity model (docs)
        assert 1 / 1.5 <= t4.mmacs[task] / t4.paper_mmacs[task] <= 1.5, t4
    m = json.loads((CPU / "01_search.metrics.json").read_text())
    assert m["iterations"] == 1000 and m["final_entropy"] <= 0.8 and m["random_final_entropy"] > 0.99
    dags = pd.read_csv(CPU / "02_figure3_architecture" / "dags.csv")
    n = json.loads((CPU / "search_run" / "config.json").read_text())["space"]["nodes"]
    assert (dags.edges <= n * (n - 1) / 4).all()  # level 0.5 keeps at most half of each complete DAG


QUICK = RESULTS / "quick"


@pytest.mark.skipif(not (QUICK / "08_summary").exists(), reason="no quick-scale run")
def test_quick_scale_accuracies_mean_something():
    """The quick scale's models learn: issue #9's floors (chance is 10 %)."""
    t1 = pd.read_csv(QUICK / "04_table1_cifar10" / "table1.csv")
    assert (t1.accuracy >= 65).all(), dict(zip(t1.model, t1.accuracy))
    t4 = paper_rows(pd.read_csv(QUICK / "05_table4_transfer" / "table4.csv"))
    assert t4.loc["fashion-mnist", "accuracy"] >= 85
    t3 = pd.read_csv(QUICK / "06_imagenet_tables2_3" / "table3.csv")
    assert (t3.top1 >= 40).all(), dict(zip(t3.model, t3.top1))


@pytest.mark.skipif(not (QUICK / "08_summary").exists(), reason="no quick-scale run")
def test_quick_scale_mnist_reaches_97():
    """At full width the model nearest 0.23 M MACs was about stem + classifier (83.6 %); table4.width thins it first."""
    t4 = paper_rows(pd.read_csv(QUICK / "05_table4_transfer" / "table4.csv"))
    assert t4.loc["mnist", "accuracy"] >= 97


@pytest.mark.skipif(not (RESULTS / "cpu" / "04_table1_cifar10" / "table1.csv").exists(), reason="no cpu Table 1")
def test_cpu_table1_rows_within_5_points_or_reported_short():
    t1 = pd.read_csv(RESULTS / "cpu" / "04_table1_cifar10" / "table1.csv")
    summary = RESULTS / "cpu" / "08_summary" / "verdicts.csv"
    if not summary.exists():
        pytest.skip("summary@cpu has not run yet (it runs once every cpu stage has)")
    verdicts = pd.read_csv(summary)
    for row in t1.itertuples():
        if row.paper_accuracy - row.accuracy > 5:
            said = verdicts[verdicts.claim.str.startswith(f"{row.model} reaches")]
            assert len(said) and said.verdict.iloc[0].startswith("short by"), (row.model, row.accuracy)


@pytest.mark.skipif(not (RESULTS / "cpu" / "06_imagenet_tables2_3" / "speedup_equal_accuracy.csv").exists(),
                    reason="no cpu Imagenette run")
def test_cpu_speedup_at_equal_accuracy_is_a_number_in_both_backends():
    """Issue #9: the headline (2.42x at 96, 2.11x at 128) gets a number, interpolated from the two curves."""
    s = pd.read_csv(RESULTS / "cpu" / "06_imagenet_tables2_3" / "speedup_equal_accuracy.csv")
    assert {"eager", "onnxruntime"} <= set(s.backend)
    for r in s.itertuples():  # interpolated where the curves overlap (thin_scales extends the SwiftNet curve down)
        assert np.isfinite(r.geomean) and r.points >= 2, r


@pytest.mark.skipif(not (RESULTS / "cpu" / "08_summary" / "verdicts.csv").exists(), reason="summary@cpu has not run")
def test_cpu_table4_shortfalls_are_reported_with_what_the_budget_left():
    t4 = paper_rows(pd.read_csv(RESULTS / "cpu" / "05_table4_transfer" / "table4.csv"))
    v = pd.read_csv(RESULTS / "cpu" / "08_summary" / "verdicts.csv")
    for task, row in t4[t4.status == "run"].iterrows():
        if row.paper_accuracy - row.accuracy > 1:
            said = v[v.claim.str.startswith(f"{task} reaches")]
            assert len(said) and said.verdict.iloc[0].startswith("short by"), task
            assert "convolutions" in said.evidence.iloc[0] and "pruned to identities" in said.evidence.iloc[0]
            if ((t4_all := pd.read_csv(RESULTS / "cpu" / "05_table4_transfer" / "table4.csv")).task.eq(task)
                    & t4_all.target.ne("paper") & t4_all.status.eq("run")).any():
                assert "the same meta-graph at" in said.evidence.iloc[0]  # the larger budget's result, beside it
