import pytest
import torch

from conftest import synthetic_proxy, trained_metagraph
from gramlib.experiments import fit_and_score, level_for_budget, mobilenet_v2, pruning_profile, subsample
from gramlib.model import build_model
from gramlib.pipeline import load_params
from gramlib.profiling import count_cost
from gramlib.train import Recipe, recipe_with


def test_level_for_budget_picks_largest_model_within_budget():
    prof = [{"level": 0.0, "mmacs": 40.0}, {"level": 0.3, "mmacs": 20.0}, {"level": 0.6, "mmacs": 4.0}, {"level": 1.0, "mmacs": 2.0}]
    assert level_for_budget(prof, 25) == 0.3
    assert level_for_budget(prof, 4) == 0.6
    with pytest.raises(ValueError, match="smallest profiled model has 2.00"):
        level_for_budget(prof, 1)


def test_pruning_profile_rows(small_space):
    rows = pruning_profile(trained_metagraph(small_space, 20), [0.0, 0.5, 1.0], (3, 16, 16))
    assert [r["level"] for r in rows] == [0.0, 0.5, 1.0] and all(r["mmacs"] > 0 for r in rows)


def test_subsample_is_seeded():
    d = synthetic_proxy(40, 4).train
    a, b = subsample(d, 10, seed=3), subsample(d, 10, seed=3)
    assert len(a) == 10 and torch.equal(a.y, b.y) and subsample(d, None) is d
    with pytest.raises(ValueError):
        subsample(d, 0)


def test_mobilenet_small_input_keeps_resolution():
    big = count_cost(mobilenet_v2(0.35, 10), (3, 32, 32)).macs
    small = count_cost(mobilenet_v2(0.35, 10, small_input=True), (3, 32, 32)).macs
    assert small > 10 * big  # total stride 8 instead of 32: 16x the spatial positions after the stem


def test_fit_and_score_resumes_from_checkpoint(tmp_path, small_space, monkeypatch):
    proxy = synthetic_proxy(32, 16)
    arch = trained_metagraph(small_space, 5).prune(0.5)
    recipe = Recipe("sgd", lr=0.01, epochs=2, batch_size=16)
    kw = dict(key={"a": arch.to_dict()}, ckpt_dir=tmp_path, topk=(1, 2), latency_runs=2, progress=False)
    r1 = fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe, **kw)
    assert 0 <= r1["top1"] <= r1["top2"] <= 100 and r1["mmacs"] > 0 and r1["epochs"] == 2
    import gramlib.train as tr

    calls = []
    real_step = torch.optim.SGD.step
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, *a, **k: calls.append(1) or real_step(self, *a, **k))
    r2 = fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe, **kw)
    assert calls == []  # finished run: nothing trained again
    assert r2["top1"] == r1["top1"]
    r3 = fit_and_score("another-row", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe, **kw)
    assert calls == [] and r3["top1"] == r1["top1"]  # the same run under another name: trained once
    r4 = fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe, **{**kw, "seed": 1})
    assert len(calls) == 4 and r4["epochs"] == 2  # another seed is another run: 2 epochs x 2 steps


def test_recipes():
    assert recipe_with("cifar10", epochs=8).milestones == (0.5, 0.75)
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_with("imagenet-1k")
    with pytest.raises(ValueError, match="optimizer"):
        Recipe(optimizer="lbfgs")


def test_multistep_schedule_decays_at_half_and_three_quarters():
    from gramlib.train import make_optimizer

    model = torch.nn.Linear(2, 2)
    opt, sched = make_optimizer(model, recipe_with("cifar10", epochs=4), steps_per_epoch=1)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.01, 0.01, 0.001, 0.0001])


def test_params_scales():
    for s in ("cpu", "quick", "smoke"):
        assert load_params(s)["search"]["iterations"] > 0
    with pytest.raises(ValueError, match="unknown scale"):
        load_params("huge")


def test_recorded_rows_are_read_not_trained(tmp_path, small_space, monkeypatch):
    """A part stage's record (gramlib.parts) stands for its run: same run → returned untrained, under the
    asking row's name; another recipe is another run and trains."""
    proxy = synthetic_proxy(32, 16)
    arch = trained_metagraph(small_space, 5).prune(0.5)
    recipe = Recipe("sgd", lr=0.01, epochs=1, batch_size=16)
    rec = tmp_path / "part"
    kw = dict(key={"a": arch.to_dict()}, topk=(1,), latency_runs=2, progress=False)
    first = fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe,
                          ckpt_dir=tmp_path / "ck1", record_to=rec, **kw)
    (record,) = rec.glob("m-*.json")
    import json

    assert json.loads(record.read_text())["top1"] == first["top1"]

    def no_training(*a, **k):
        raise AssertionError("a recorded run was trained again")

    monkeypatch.setattr("gramlib.experiments.train", no_training)
    # another checkpoint folder (a fresh machine): only the record can say the run is done
    again = fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe,
                          ckpt_dir=tmp_path / "ck2", records=[rec], **kw)
    assert again == first
    renamed = fit_and_score("m-again", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe,
                            ckpt_dir=tmp_path / "ck2", records=[rec], **kw)
    assert renamed["model"] == "m-again" and renamed["top1"] == first["top1"]
    with pytest.raises(AssertionError, match="trained again"):  # 2 epochs: another run, so it trains
        fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe_with(recipe, epochs=2),
                      ckpt_dir=tmp_path / "ck2", records=[rec], **kw)
    with pytest.raises(AssertionError, match="trained again"):  # the same training, scored on fewer test images
        fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val.subset(torch.arange(8)), recipe,
                      ckpt_dir=tmp_path / "ck2", records=[rec], **kw)
    with pytest.raises(AssertionError, match="trained again"):  # ... or asked for a top-2 the record lacks
        fit_and_score("m", lambda: build_model(arch, 4, 3), proxy.train, proxy.val, recipe,
                      ckpt_dir=tmp_path / "ck2", records=[rec], **{**kw, "topk": (1, 2)})
