"""Training recipes, batched augmentation, the ELU kernel, progress routing and notebook stamps."""

import math
import re

import nbformat
import pytest
import torch
import torch.nn.functional as F

from gramlib.model import ELU
from gramlib.progress import progress_bar
from gramlib.io import run_key
from gramlib.train import RECIPES, Recipe, augment_batch, lr_factor, recipe_with, train


def _loop_reference(x, seed, pad=4, flip=True):
    g = torch.Generator().manual_seed(seed)
    n, _, h, w = x.shape
    p = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    out = torch.stack([p[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        f = torch.rand(n, generator=g) < 0.5
        out[f] = out[f].flip(3)
    return out


@pytest.mark.parametrize("mode", ["crop_flip", "crop"])
@pytest.mark.parametrize("pad", [4, 2])
def test_batched_augmentation_equals_the_per_image_crop(mode, pad):
    x = torch.randn(32, 3, 12, 10)
    got = augment_batch(x, mode, torch.Generator().manual_seed(3), pad=pad)
    assert torch.equal(got, _loop_reference(x, 3, pad=pad, flip=mode == "crop_flip"))


def test_crop_pad_bounds_the_shift():
    # one bright pixel in the middle moves by at most crop_pad rows and columns, and by up to it somewhere in 256 crops
    x = torch.zeros(256, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    for pad in (1, 2, 4):
        got = augment_batch(x, "crop", torch.Generator().manual_seed(0), pad=pad)
        where = got[:, 0].flatten(1).argmax(1)
        shift = torch.stack([where // 16 - 8, where % 16 - 8]).abs()
        assert shift.max() == pad


def test_recipe_fields_added_later_keep_published_run_keys():
    # checkpoint and record names hash repr(recipe): a default crop_pad must not change them (this key was computed
    # before crop_pad existed), and any other crop_pad must
    assert run_key(key={"x": 1}, recipe=recipe_with("cpu", epochs=7, augment="crop"), seed=0) == "ec056070408c310d"
    assert "crop_pad" not in repr(RECIPES["cpu"]) and "crop_pad=2" in repr(recipe_with("cpu", crop_pad=2))
    assert recipe_with("cpu", crop_pad=2) != RECIPES["cpu"]


def test_checkpoint_from_before_crop_pad_resumes(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8), torch.arange(16) % 2
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    ckpt = tmp_path / "m.pt"
    kw = dict(mean=(0.5,), std=(0.25,), device="cpu", checkpoint=ckpt, progress=False)
    recipe = recipe_with("cpu", epochs=1, batch_size=8, augment="crop")
    first = train(model, x, y, recipe, **kw)
    state = torch.load(ckpt, weights_only=False)
    del state["recipe"]["crop_pad"]  # as gramlib wrote it before the field existed
    torch.save(state, ckpt)
    again = train(model, x, y, recipe, **kw)  # the default pad is the one it was trained with: read, not retrained
    assert again.history == first.history and again.images_per_second == 0.0
    with pytest.raises(ValueError, match="another recipe"):
        train(model, x, y, recipe_with(recipe, crop_pad=2), **kw)


def test_crop_without_flip_keeps_left_to_right_order():
    # a horizontal ramp stays increasing wherever a crop without flip lands (padding is 0 below the ramp)
    x = torch.arange(1.0, 9.0).expand(64, 1, 8, 8).clone()
    got = augment_batch(x, "crop", torch.Generator().manual_seed(0))
    row = got[:, 0, 4]
    nz = row.clamp(min=0)
    assert all(torch.all(r[r > 0].diff() > 0) for r in nz)
    assert torch.equal(augment_batch(x, "none", torch.Generator()), x)


def test_onecycle_warms_up_then_falls_to_zero():
    r = recipe_with("cpu", epochs=10)
    steps = 100
    f = [lr_factor(r, s, steps) for s in range(10 * steps)]
    peak = int(r.warmup * 10 * steps)
    assert f[0] < 0.01 and abs(max(f) - 1.0) < 1e-9 and f.index(max(f)) == peak - 1
    assert all(b <= a + 1e-12 for a, b in zip(f[peak:], f[peak + 1:]))  # never rises after the peak
    assert f[-1] < 0.002


def test_paper_recipe_schedule_is_unchanged():
    r = RECIPES["cifar10"]
    assert r.nesterov is False and r.warmup == 0.0
    assert lr_factor(r, 0, 10) == 1.0
    assert math.isclose(lr_factor(r, 50 * 10, 10), 0.1) and math.isclose(lr_factor(r, 75 * 10, 10), 0.01)


@pytest.mark.parametrize("bad", [dict(optimizer="adam", nesterov=True), dict(warmup=1.0), dict(schedule="linear"),
                                 dict(crop_pad=-1), dict(crop_pad=1.5)])
def test_recipe_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        Recipe(**bad)


def test_fast_elu_matches_torch_elu_and_its_gradient():
    x = torch.randn(4, 8, 5, 5, dtype=torch.float64) * 3
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    ya, yb = ELU()(a), F.elu(b)
    assert torch.allclose(ya, yb, atol=1e-12)
    g = torch.randn_like(x)
    ya.backward(g)
    yb.backward(g)
    assert torch.allclose(a.grad, b.grad, atol=1e-12)
    with torch.no_grad():
        assert torch.allclose(ELU()(x), F.elu(x), atol=1e-12)


def test_progress_routing(monkeypatch):
    monkeypatch.setenv("GRAMLIB_PROGRESS", "off")
    assert progress_bar(range(3)).disable
    monkeypatch.setenv("GRAMLIB_PROGRESS", "loud")
    with pytest.raises(ValueError, match="GRAMLIB_PROGRESS"):
        progress_bar(range(3))


def test_rendered_notebook_is_stamped_once(tmp_path):
    import datetime as dt

    from gramlib.pipeline import stamp_notebook

    path = tmp_path / "n.ipynb"
    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_markdown_cell("# title"))
    nbformat.write(book, path)
    for _ in range(2):
        stamp_notebook(path, scale="quick", commit="abc123", started=dt.datetime(2026, 1, 1), seconds=3725)
    got = nbformat.read(path, as_version=4)
    assert len(got.cells) == 2 and "1 h 02 min" in got.cells[0].source and "abc123" in got.cells[0].source
    assert got.metadata["gramlib"]["wall_seconds"] == 3725


def test_wall_times_add_up_the_run_stamps(tmp_path, monkeypatch):
    import datetime as dt

    import gramlib.pipeline as pl

    monkeypatch.setattr(pl, "results_dir", lambda scale: tmp_path / scale)
    (tmp_path / "cpu" / "notebooks").mkdir(parents=True)
    for name, seconds in [("04_table1_cifar10", 3600), ("01_search", 1800), ("08_summary", None)]:
        path = tmp_path / "cpu" / "notebooks" / f"{name}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        if seconds:  # 08 rendered before run stamps existed: left out
            pl.stamp_notebook(path, scale="cpu", commit="abc", started=dt.datetime(2026, 1, 1), seconds=seconds)
    rows = pl.wall_times("cpu")
    assert [r["stage"] for r in rows] == ["search@cpu", "table1@cpu"]  # pipeline order, not file order
    assert "**1 h 30 min**" in pl.wall_times_markdown("cpu")


def test_plain_cnn_trains_and_rejects_zero_width():
    from gramlib.experiments import plain_cnn

    m = plain_cnn(0.5, 10)
    m(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    with pytest.raises(ValueError):
        plain_cnn(0, 10)


def _params_with(tmp_path, edit):
    import yaml

    from gramlib.pipeline import ROOT

    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(p["scales"]["smoke"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["figure3"].update(levl=0.9), "unknown key scales.smoke.figure3.levl"),
    (lambda s: s["table1"].pop("epochs"), "missing key scales.smoke.table1.epochs"),
    (lambda s: s["search"].update(iterations="four"), "scales.smoke.search.iterations = 'four'"),
    (lambda s: s["table1"].update(epochs=[2, "x"]), "scales.smoke.table1.epochs"),
    # a list is one value per row only where the notebook reads it so (table1.epochs), never for a seed
    (lambda s: s["table1"].update(seed=[1, 2]), "scales.smoke.table1.seed = [1, 2]"),
    (lambda s: s["table4"].update(width={"mnist": "thin"}), "scales.smoke.table4.width"),
])
def test_params_that_would_fall_back_to_notebook_defaults_are_refused(tmp_path, edit, message):
    from gramlib.pipeline import ParamsError, check_all_params, check_params

    path = _params_with(tmp_path, edit)
    with pytest.raises(ParamsError, match=re.escape(message)):
        check_all_params("smoke", path)
    check_params("08_summary", "smoke", path)  # the other notebooks' settings still pass


def test_per_task_and_per_size_settings_are_accepted(tmp_path):
    from gramlib.pipeline import check_params

    def edit(s):
        s["table4"].update(width={"mnist": 0.25, "fashion-mnist": 0.5, "svhn": 1})
        s["imagenet"].update(mobilenet_widths={96: [0.35, 0.5]})

    path = _params_with(tmp_path, edit)
    assert check_params("05_table4_transfer", "smoke", path)["width"]["mnist"] == 0.25
    assert check_params("06_imagenet_tables2_3", "smoke", path)["mobilenet_widths"] == {96: [0.35, 0.5]}


def test_params_of_every_scale_match_the_notebooks():
    from gramlib.pipeline import check_all_params

    for scale in ("smoke", "quick", "cpu"):
        check_all_params(scale)  # raises on any mismatch (quick's table1.epochs is one value per budget)


def test_recommended_proxy_at_reads_that_scales_study():
    from gramlib.pipeline import load_params, recommended_proxy_at

    name, settings = recommended_proxy_at("cpu")
    assert name == "default" and settings == {} or settings == load_params("cpu")["proxy"]["variants"][name]


def test_pipeline_cli_names_its_modes_and_refuses_bad_params_without_a_traceback(tmp_path, capsys):
    from gramlib.pipeline import main

    with pytest.raises(SystemExit):
        main(["--scale", "smoke"])
    assert "--check or --wall-times" in capsys.readouterr().err
    path = _params_with(tmp_path, lambda s: s["figure3"].update(levl=0.9))
    assert main(["02_figure3_architecture", "--scale", "smoke", "--params", str(path)]) == 2
    assert "unknown key scales.smoke.figure3.levl" in capsys.readouterr().err
