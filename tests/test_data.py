"""Tests for gramlib.data: mirror (real and generated), cache, torchvision SVHN, errors, proxies."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gramlib import data as gd
from gramlib.data import (
    DATASETS,
    DatasetError,
    ImageData,
    default_mirror,
    load_image_folder,
    load_split,
    make_proxy,
    normalize_stats,
)

# expected (n, channels, side, classes) of the real mirror's splits that are tested
REAL = {
    ("mnist", "test"): (10000, 1, 28, 10),
    ("fashion-mnist", "test"): (10000, 1, 28, 10),
    ("cifar10", "test"): (10000, 3, 32, 10),
    ("imagenette", "test"): (3925, 3, 128, 10),
}
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # solid colour per class


# --------------------------------------------------------------------------- helpers


def write_npz(path: Path, n: int, side: int, channels: int, n_classes: int = 10, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x=rng.integers(0, 256, (n, side, side, channels), dtype=np.uint8),
        y=np.arange(n, dtype=np.int64) % n_classes,
        classes=np.array([f"c{i}" for i in range(n_classes)]),
    )


def write_zip(path: Path, per_class: int, size: tuple[int, int], classes: list[str], fmt: str = "JPEG") -> None:
    """An uncompressed CLASS/FILE zip of solid-colour images (colour = COLORS[class index])."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for ci, cname in enumerate(classes):
            for j in range(per_class):
                buf = io.BytesIO()
                Image.new("RGB", size, COLORS[ci % len(COLORS)]).save(buf, fmt)
                zf.writestr(f"{cname}/{j:04d}.{'jpg' if fmt == 'JPEG' else 'png'}", buf.getvalue())


@pytest.fixture
def gen_mirror(tmp_path: Path) -> Path:
    """A small mirror in the real mirror's layout."""
    m = tmp_path / "mirror"
    write_npz(m / "mnist" / "test.npz", 30, 28, 1)
    write_npz(m / "fashion-mnist" / "test.npz", 20, 28, 1)
    write_zip(m / "cifar10" / "test.zip", 5, (32, 32), ["cat", "airplane", "dog"])  # unsorted on purpose
    write_zip(m / "imagenette" / "val.zip", 3, (40, 30), ["n01440764", "n02102040"])
    return m


def check(d: ImageData, n: int, c: int, side: int, n_classes: int) -> None:
    assert len(d) == n
    assert d.x.dtype == torch.uint8 and d.y.dtype == torch.int64
    assert tuple(d.x.shape) == (n, c, side, side)
    assert tuple(d.y.shape) == (n,)
    assert len(d.classes) == n_classes
    assert int(d.y.min()) >= 0 and int(d.y.max()) < n_classes


# --------------------------------------------------------------------------- real mirror


@pytest.mark.parametrize("name,split", list(REAL))
def test_real_mirror(name: str, split: str, tmp_path: Path) -> None:
    mirror = default_mirror()
    if mirror is None or not (mirror / name).is_dir():
        pytest.skip(f"{name} not in the offline mirror")
    n, c, side, k = REAL[name, split]
    d = load_split(name, split, root=tmp_path, mirror=mirror, download=False)
    check(d, n, c, side, k)
    assert (d.name, d.split) == (name, "test")
    assert len(torch.unique(d.y)) == k
    if name == "cifar10":
        assert d.classes[0] == "airplane" and d.classes[-1] == "truck"
        assert torch.bincount(d.y).tolist() == [1000] * 10
        assert (tmp_path / "cache" / "cifar10-test.npz").is_file()


# --------------------------------------------------------------------------- generated mirror


@pytest.mark.parametrize(
    "name,split,expect",
    [
        ("mnist", "test", (30, 1, 28, 10)),
        ("FASHION_MNIST", "val", (20, 1, 28, 10)),
        ("cifar10", "test", (15, 3, 32, 3)),
        ("imagenette", "test", (6, 3, 128, 2)),
        ("imagenette", "val", (6, 3, 128, 2)),
    ],
)
def test_generated_mirror(name: str, split: str, expect: tuple, gen_mirror: Path, tmp_path: Path) -> None:
    d = load_split(name, split, root=tmp_path / "root", mirror=gen_mirror, download=False)
    check(d, *expect)
    assert d.split == "test"


def test_zip_labels_are_sorted_class_folders(gen_mirror: Path, tmp_path: Path) -> None:
    d = load_split("cifar10", "test", root=tmp_path, mirror=gen_mirror, download=False)
    assert d.classes == ("airplane", "cat", "dog")
    colour = {"cat": COLORS[0], "airplane": COLORS[1], "dog": COLORS[2]}  # from write_zip's class order
    for i in range(len(d)):
        want = torch.tensor(colour[d.classes[int(d.y[i])]], dtype=torch.float32)
        got = d.x[i].float().mean(dim=(1, 2))
        assert torch.allclose(got, want, atol=3), (i, got, want)


def test_image_size_resizes_and_keys_cache(gen_mirror: Path, tmp_path: Path) -> None:
    d = load_split("cifar10", "test", root=tmp_path, mirror=gen_mirror, download=False, image_size=16)
    check(d, 15, 3, 16, 3)
    assert (tmp_path / "cache" / "cifar10-test-16.npz").is_file()
    m = load_split("mnist", "test", root=tmp_path, mirror=gen_mirror, download=False, image_size=14)
    check(m, 30, 1, 14, 10)
    assert (tmp_path / "cache" / "mnist-test-14.npz").is_file()
    # an unresized npz is read straight from the mirror, not cached
    load_split("mnist", "test", root=tmp_path, mirror=gen_mirror, download=False)
    assert not (tmp_path / "cache" / "mnist-test.npz").exists()


def test_zip_with_mixed_sizes_needs_image_size(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write_zip(m / "cifar10" / "test.zip", 2, (32, 32), ["a"])
    with zipfile.ZipFile(m / "cifar10" / "test.zip", "a", compression=zipfile.ZIP_STORED) as zf:
        buf = io.BytesIO()
        Image.new("RGB", (20, 24), COLORS[1]).save(buf, "PNG")
        zf.writestr("b/0000.png", buf.getvalue())
    with pytest.raises(DatasetError, match="differ in size"):
        load_split("cifar10", "test", root=tmp_path, mirror=m, download=False)
    d = load_split("cifar10", "test", root=tmp_path, mirror=m, download=False, image_size=8)
    check(d, 3, 3, 8, 2)


# --------------------------------------------------------------------------- cache


def test_second_load_reads_cache(gen_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_split("cifar10", "test", root=tmp_path, mirror=gen_mirror)
    cache_dir = tmp_path / "cache"
    assert [p.name for p in cache_dir.iterdir()] == ["cifar10-test.npz"]  # no temp files left over

    def boom(*args, **kwargs):
        raise AssertionError("zip decoded again")

    monkeypatch.setattr(gd, "_decode_zip", boom)
    second = load_split("cifar10", "test", root=tmp_path, mirror=gen_mirror)
    assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y)
    assert first.classes == second.classes
    # the cache suffices even with the mirror gone
    third = load_split("cifar10", "test", root=tmp_path, mirror=None, download=False)
    assert torch.equal(first.x, third.x)


@pytest.mark.parametrize("corruption", ["garbage", "truncated", "no_y", "wrong_size"])
def test_corrupt_cache_is_rebuilt(
    corruption: str, gen_mirror: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = load_split("imagenette", "test", root=tmp_path, mirror=gen_mirror)
    cache = tmp_path / "cache" / "imagenette-test-128.npz"
    if corruption == "garbage":
        cache.write_bytes(b"not an npz at all")
    elif corruption == "truncated":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif corruption == "no_y":
        np.savez(cache, x=first.x.permute(0, 2, 3, 1).numpy())
    else:
        np.savez(cache, x=np.zeros((6, 64, 64, 3), np.uint8), y=np.zeros(6, np.int64), classes=np.array(["a"]))
    with caplog.at_level(logging.WARNING, logger="gramlib.data"):
        again = load_split("imagenette", "test", root=tmp_path, mirror=gen_mirror)
    assert "corrupt cache" in caplog.text and cache.name in caplog.text
    assert torch.equal(first.x, again.x) and torch.equal(first.y, again.y)
    assert np.load(cache)["x"].shape == (6, 128, 128, 3)  # rebuilt


# --------------------------------------------------------------------------- SVHN via torchvision


def test_svhn_from_mat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.io
    import torchvision.datasets

    n = 12
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # SVHN's own layout
    y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # labels 1..10, 10 = digit 0
    (tmp_path / "torchvision").mkdir()
    scipy.io.savemat(tmp_path / "torchvision" / "test_32x32.mat", {"X": X, "y": y})
    # our file is not the official one, so skip torchvision's md5 check
    monkeypatch.setattr(torchvision.datasets.SVHN, "_check_integrity", lambda self: True)

    d = load_split("svhn", "test", root=tmp_path, mirror=None, download=False)
    check(d, n, 3, 32, 10)
    assert d.classes == tuple(str(i) for i in range(10))
    expected = y.reshape(-1).astype(np.int64) % 10
    assert d.y.tolist() == expected.tolist()
    assert 10 not in d.y.tolist() and int((d.y == 0).sum()) == int((y == 10).sum())
    assert torch.equal(d.x, torch.from_numpy(X.transpose(3, 2, 0, 1).copy()))


def test_svhn_missing_without_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="download"):
        load_split("svhn", "train", root=tmp_path, mirror=None, download=False)


# --------------------------------------------------------------------------- other torchvision fallbacks


def fake_torchvision_files(name: str, tv: Path, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """Write tiny test-split files where torchvision looks for them; return the images (NHWC)."""
    import pickle
    import struct

    import torchvision.datasets.cifar

    rng = np.random.default_rng(1)
    if name in ("mnist", "fashion-mnist"):
        raw = tv / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
        raw.mkdir(parents=True)
        x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
        for prefix in ("train", "t10k"):
            (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, 7, 28, 28) + x.tobytes())
            (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 7) + bytes(range(7)))
        return x[..., None]
    if name == "cifar10":
        folder = tv / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        x = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
        batch = {"data": x.transpose(0, 3, 1, 2).reshape(7, -1), "labels": list(range(7))}
        (folder / "test_batch").write_bytes(pickle.dumps(batch))
        meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
        (folder / "batches.meta").write_bytes(pickle.dumps(meta))
        monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)  # skip md5s
        return x
    # imagenette: the extracted imagenette2-160 tree (shorter side 160, varied aspect)
    for ci, wnid in enumerate(["n01440764", "n02102040", "n02979186"]):
        (tv / "imagenette2-160" / "val" / wnid).mkdir(parents=True)
        Image.new("RGB", (160 + 40 * ci, 160), COLORS[ci]).save(tv / "imagenette2-160" / "val" / wnid / "a.JPEG")
    return np.zeros((3, 0, 0, 3), np.uint8)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10", "imagenette"])
def test_torchvision_fallback(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = fake_torchvision_files(name, tmp_path / "torchvision", monkeypatch)
    d = load_split(name, "test", root=tmp_path, mirror=None, download=False)
    if name == "imagenette":
        check(d, 3, 3, 128, 3)
        assert d.classes == ("n01440764", "n02102040", "n02979186")  # wnids, as in the mirror
        assert (tmp_path / "cache" / "imagenette-test-128.npz").is_file()
        assert torch.allclose(d.x.float().mean(dim=(2, 3)), torch.tensor(COLORS[:3]).float(), atol=3)
    else:
        c = 1 if "mnist" in name else 3
        check(d, 7, c, x.shape[1], 10)
        assert torch.equal(d.x, torch.from_numpy(x).permute(0, 3, 1, 2))
        assert d.y.tolist() == list(range(7))
    if name == "mnist":
        assert d.classes == tuple(str(i) for i in range(10))  # same names as the mirror's
    if name == "cifar10":
        assert d.classes[0] == "airplane"


# --------------------------------------------------------------------------- errors


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError) as e:
        load_split("cifar100")
    for name in DATASETS:
        assert name in str(e.value)


@pytest.mark.parametrize("split", ["dev", "extra", ""])
def test_bad_split(split: str) -> None:
    with pytest.raises(ValueError, match="split"):
        load_split("mnist", split)


def test_name_aliases(gen_mirror: Path, tmp_path: Path) -> None:
    for alias in ("fashion_mnist", "FashionMNIST", "Fashion-MNIST"):
        assert load_split(alias, "test", root=tmp_path, mirror=gen_mirror).name == "fashion-mnist"


def test_corrupt_mirror_zip(tmp_path: Path) -> None:
    m = tmp_path / "m"
    (m / "cifar10").mkdir(parents=True)
    (m / "cifar10" / "train.zip").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(DatasetError, match=r"train\.zip"):
        load_split("cifar10", "train", root=tmp_path, mirror=m, download=False)


def test_truncated_mirror_zip(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write_zip(m / "cifar10" / "train.zip", 4, (32, 32), ["a", "b"])
    raw = (m / "cifar10" / "train.zip").read_bytes()
    (m / "cifar10" / "train.zip").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match=r"train\.zip"):
        load_split("cifar10", "train", root=tmp_path, mirror=m, download=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize("problem", ["garbage", "no_y", "length_mismatch", "bad_label", "wrong_channels"])
def test_bad_mirror_npz(problem: str, tmp_path: Path) -> None:
    path = tmp_path / "m" / "mnist" / "train.npz"
    path.parent.mkdir(parents=True)
    x = np.zeros((10, 28, 28, 1), np.uint8)
    y = np.zeros(10, np.int64)
    classes = np.array([str(i) for i in range(10)])
    if problem == "garbage":
        path.write_bytes(b"PK\x03\x04 nope")
    elif problem == "no_y":
        np.savez(path, x=x, classes=classes)
    elif problem == "length_mismatch":
        np.savez(path, x=x, y=y[:9], classes=classes)
    elif problem == "bad_label":
        np.savez(path, x=x, y=y + 10, classes=classes)
    else:
        np.savez(path, x=np.zeros((10, 28, 28, 3), np.uint8), y=y, classes=classes)
    with pytest.raises(DatasetError, match=r"train\.npz"):
        load_split("mnist", "train", root=tmp_path, mirror=tmp_path / "m", download=False)


def test_missing_without_download(tmp_path: Path) -> None:
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    with pytest.raises(DatasetError) as e:
        load_split("cifar10", "test", root=tmp_path / "root", mirror=empty, download=False)
    msg = str(e.value)
    assert "download" in msg and str(empty) in msg and "torchvision" in msg


def test_default_mirror_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAMLIB_MIRROR", str(tmp_path))
    assert default_mirror() == tmp_path
    monkeypatch.setenv("GRAMLIB_MIRROR", "")
    assert default_mirror() is None
    monkeypatch.delenv("GRAMLIB_MIRROR")
    found = default_mirror()
    assert found is None or found.is_dir()


# --------------------------------------------------------------------------- image folders


def test_load_image_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "imagenet" / "val"
    for ci, cname in enumerate(["n2", "n1"]):
        (folder / cname).mkdir(parents=True)
        for j, size in enumerate([(40, 20), (20, 30)]):
            Image.new("RGB", size, COLORS[ci]).save(folder / cname / f"{j}.JPEG")
    d = load_image_folder(folder, 16, root=tmp_path / "root")
    check(d, 4, 3, 16, 2)
    assert d.classes == ("n1", "n2") and (d.name, d.split) == ("imagenet", "val")
    assert d.y.tolist() == [0, 0, 1, 1]
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "ImageFolder", None)  # cache must be used now
    again = load_image_folder(folder, 16, root=tmp_path / "root")
    assert torch.equal(d.x, again.x)
    with pytest.raises(DatasetError):
        load_image_folder(tmp_path / "nope", 16, root=tmp_path / "root")


# --------------------------------------------------------------------------- ImageData / stats


def indexed_data(n: int, n_classes: int) -> ImageData:
    """Data whose image i encodes i in its first two pixels, label i % n_classes."""
    x = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    i = torch.arange(n)
    x[:, 0, 0, 0] = (i % 256).to(torch.uint8)
    x[:, 0, 0, 1] = (i // 256).to(torch.uint8)
    return ImageData(x, i % n_classes, tuple(f"c{k}" for k in range(n_classes)), "toy", "train")


def ids(d: ImageData) -> list[int]:
    return (d.x[:, 0, 0, 0].long() + 256 * d.x[:, 0, 0, 1].long()).tolist()


def test_imagedata_subset_and_validation() -> None:
    d = indexed_data(20, 4)
    s = d.subset([3, 5, 7])
    assert len(s) == 3 and ids(s) == [3, 5, 7] and s.y.tolist() == [3, 1, 3]
    assert s.classes == d.classes and s.name == "toy"
    assert len(d.subset(slice(0, 4))) == 4
    assert len(d.subset(d.y == 0)) == 5
    with pytest.raises(ValueError):
        ImageData(d.x.float(), d.y, d.classes, "toy", "train")
    with pytest.raises(ValueError):
        ImageData(d.x, d.y[:-1], d.classes, "toy", "train")


def test_normalize_stats() -> None:
    x = torch.empty(4, 3, 5, 5, dtype=torch.uint8)
    x[:, 0] = 255
    x[:, 1] = 0
    x[:2, 2] = 0
    x[2:, 2] = 255
    d = ImageData(x, torch.zeros(4, dtype=torch.int64), ("a",), "toy", "train")
    mean, std = normalize_stats(d)
    assert mean == pytest.approx((1.0, 0.0, 0.5))
    assert std == pytest.approx((0.0, 0.0, 0.5))
    rnd = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = normalize_stats(ImageData(rnd, torch.zeros(50, dtype=torch.int64), ("a",), "t", "s"))
    f = rnd.double() / 255
    assert mean == pytest.approx(f.mean(dim=(0, 2, 3)).tolist())
    assert std == pytest.approx(f.std(dim=(0, 2, 3), unbiased=False).tolist())


# --------------------------------------------------------------------------- make_proxy


def test_make_proxy_sizes_disjoint_deterministic() -> None:
    d = indexed_data(1000, 10)
    p = make_proxy(d, 300, 200, seed=1)
    assert len(p.train) == 300 and len(p.val) == 200
    tr, va = ids(p.train), ids(p.val)
    assert len(set(tr)) == 300 and len(set(va)) == 200 and not set(tr) & set(va)
    assert p.train.y.tolist() == [i % 10 for i in tr]  # labels follow their images
    q = make_proxy(d, 300, 200, seed=1)
    assert ids(q.train) == tr and ids(q.val) == va
    r = make_proxy(d, 300, 200, seed=2)
    assert ids(r.train) != tr
    assert len(make_proxy(d, 600, 400).train) == 600  # may use every sample


def test_make_proxy_per_class() -> None:
    d = indexed_data(1000, 10)  # 100 per class
    p = make_proxy(d, 30, 20, per_class=True, seed=3)
    assert torch.bincount(p.train.y, minlength=10).tolist() == [30] * 10
    assert torch.bincount(p.val.y, minlength=10).tolist() == [20] * 10
    assert not set(ids(p.train)) & set(ids(p.val))
    assert ids(make_proxy(d, 30, 20, per_class=True, seed=3).train) == ids(p.train)
    # not grouped by class
    assert p.train.y[:10].unique().numel() > 1


def test_make_proxy_too_few() -> None:
    d = indexed_data(100, 10)
    with pytest.raises(ValueError, match="need"):
        make_proxy(d, 60, 50)
    with pytest.raises(ValueError, match="class"):
        make_proxy(d, 6, 5, per_class=True)
    skewed = d.subset(torch.cat([torch.arange(100), torch.arange(0, 100, 10)]))  # class 0 has 20, others 10
    assert len(make_proxy(skewed, 5, 5, per_class=True).train) == 50
    with pytest.raises(ValueError, match="c1"):
        make_proxy(skewed, 6, 5, per_class=True)
    for bad in [(0, 5), (5, 0), (-1, 5)]:
        with pytest.raises(ValueError):
            make_proxy(d, *bad)


# --------------------------------------------------------------------------- the dataset registry


def test_registry_knows_shapes_flips_and_aliases() -> None:
    from gramlib.data import augment_for, dataset_info

    for (name, _), (_, c, side, k) in REAL.items():  # the registry agrees with the real mirror's files
        info = dataset_info(name)
        assert info.input_shape == (c, side, side) and info.classes == k
    assert dataset_info("FashionMNIST") is DATASETS["fashion-mnist"]
    assert [augment_for(n) for n in ("mnist", "svhn", "fashion-mnist", "cifar10")] == ["crop", "crop", "crop_flip", "crop_flip"]
    with pytest.raises(ValueError, match="cifar100.*valid names: cifar10, mnist"):
        dataset_info("cifar100")


def test_a_new_dataset_is_one_registry_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a dataset touches DATASETS only: loading, flips and shapes follow from its entry."""
    from gramlib.data import DatasetInfo, augment_for

    monkeypatch.setitem(DATASETS, "cifar100", DatasetInfo("cifar100", channels=3, size=32, classes=100, flips=True,
                                                          torchvision="CIFAR100", aliases=("cifar-100",)))
    write_npz(tmp_path / "mirror" / "cifar100" / "test.npz", 200, 32, 3, n_classes=100)
    d = load_split("CIFAR-100", "test", root=tmp_path, mirror=tmp_path / "mirror")
    check(d, 200, 3, 32, 100)
    assert d.name == "cifar100" and augment_for("cifar100") == "crop_flip"
