"""Dataset loading: offline mirror, decoded cache, torchvision fallback, proxy splits.

Every split is returned as an :class:`ImageData` holding the whole split as uint8
tensors ``(N, C, H, W)``. Sources are tried in this order:

1. a decoded cache ``root/cache/{name}-{split}[-{image_size}].npz``;
2. the offline mirror (``NAME/SPLIT.npz`` read directly, ``NAME/SPLIT.zip``
   image-folder trees decoded once and cached);
3. torchvision's official datasets under ``root/torchvision`` (downloaded if allowed).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from .progress import progress_bar as tqdm

log = logging.getLogger(__name__)

SPLITS = ("train", "test")

_SPLIT_ALIASES = {"train": "train", "test": "test", "val": "test"}
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".pgm", ".tif", ".tiff")
_RESIZE_CHUNK = 1024


@dataclass(frozen=True)
class DatasetInfo:
    """Everything gramlib knows about one dataset: loaders, recipes and notebooks read it from :data:`DATASETS`.

    Args:
        name: canonical name (the mirror's folder and the cache's file prefix).
        channels: 1 (grayscale) or 3 (RGB).
        size: side of the images as loaded by default: the native size, or for datasets of mixed sizes
            (Imagenette) the size they are resized to unless ``image_size`` says otherwise.
        classes: number of classes.
        flips: whether a horizontal flip keeps the label (clothes and objects: yes; digits: no): training
            recipes augment with crop + flip or crop only (:func:`augment_for`).
        torchvision: the ``torchvision.datasets`` class of the official download.
        torchvision_split: how that class names a split: ``"train"`` (``train=True/False``), ``"split"``
            (``split="train"/"test"``) or ``"split-val"`` (``split="train"/"val"``).
        torchvision_kwargs: further arguments of that class (e.g. Imagenette's ``size="160px"``).
        mirror_test: file stems of the test split in the offline mirror, tried in order.
        class_names: label names when torchvision's differ from the mirror's (MNIST: "0".."9").
        aliases: other accepted spellings of the name.
        resized: images differ in size and are resized (squash) to ``size`` when decoded, then cached.
    """

    name: str
    channels: int
    size: int
    classes: int
    flips: bool
    torchvision: str
    torchvision_split: Literal["train", "split", "split-val"] = "train"
    torchvision_kwargs: tuple[tuple[str, str], ...] = ()
    mirror_test: tuple[str, ...] = ("test",)
    class_names: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    resized: bool = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, size, size): a model's input, known without loading the data."""
        return (self.channels, self.size, self.size)


_DIGITS = tuple(str(i) for i in range(10))

#: the registry: one entry per dataset (adding CIFAR-100 is one more line here)
DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("cifar10", channels=3, size=32, classes=10, flips=True, torchvision="CIFAR10"),
    DatasetInfo("mnist", channels=1, size=28, classes=10, flips=False, torchvision="MNIST", class_names=_DIGITS),
    DatasetInfo("fashion-mnist", channels=1, size=28, classes=10, flips=True, torchvision="FashionMNIST",
                aliases=("fashion_mnist", "fashionmnist")),
    DatasetInfo("svhn", channels=3, size=32, classes=10, flips=False, torchvision="SVHN", torchvision_split="split",
                class_names=_DIGITS),
    # the ImageNet stand-in: the mirror holds 128 px JPEGs, torchvision's download 160 px ones of mixed shape
    DatasetInfo("imagenette", channels=3, size=128, classes=10, flips=True, torchvision="Imagenette",
                torchvision_split="split-val", torchvision_kwargs=(("size", "160px"),), mirror_test=("val", "test"),
                resized=True),
)}


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name`` (case-insensitive; aliases such as "fashion_mnist" accepted).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    key = str(name).strip().lower()
    for info in DATASETS.values():
        if key == info.name or key in info.aliases:
            return info
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")


def augment_for(name: str) -> str:
    """The training augmentation a dataset allows: "crop_flip", or "crop" where a flip changes the label."""
    return "crop_flip" if dataset_info(name).flips else "crop"


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupt or inconsistent."""


@dataclass(frozen=True, eq=False)
class ImageData:
    """A dataset split held in memory as tensors.

    Args:
        x: uint8 images, shape (N, C, H, W).
        y: int64 labels, shape (N,).
        classes: class names; label ``i`` is ``classes[i]``.
        name: dataset name, e.g. "cifar10".
        split: split name, "train" or "test".
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.ndim != 4:
            raise ValueError(f"x must be uint8 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.dtype != torch.int64 or self.y.ndim != 1 or len(self.y) != len(self.x):
            raise ValueError(
                f"y must be int64 (N,) with N={len(self.x)}, got {self.y.dtype} {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        return (
            f"ImageData(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape={tuple(self.x.shape[1:])}, classes={len(self.classes)})"
        )

    def subset(self, idx: torch.Tensor | Sequence[int] | slice) -> ImageData:
        """Return the samples at ``idx`` (keeps name, split and classes).

        Args:
            idx: integer indices, a boolean mask or a slice.
        """
        if not isinstance(idx, slice) and not isinstance(idx, torch.Tensor):
            idx = torch.as_tensor(idx, dtype=torch.long)
        return ImageData(self.x[idx], self.y[idx], self.classes, self.name, self.split)


@dataclass(frozen=True, eq=False)
class ProxySplit:
    """Disjoint train/validation subsets drawn by :func:`make_proxy`."""

    train: ImageData
    val: ImageData


# --------------------------------------------------------------------------- names


def _canonical_name(name: str) -> str:
    return dataset_info(name).name


def _canonical_split(split: str) -> str:
    key = split.strip().lower()
    if key not in _SPLIT_ALIASES:
        raise ValueError(f"unknown split {split!r}; valid splits: train, test (alias: val)")
    return _SPLIT_ALIASES[key]


# --------------------------------------------------------------------------- mirror


def default_mirror() -> Path | None:
    """Locate the offline dataset mirror.

    Returns ``$GRAMLIB_MIRROR`` if set (an empty value disables the mirror), else the
    first existing of ``<project root>/../shared/datasets`` and
    ``./../shared/datasets``; ``None`` if none exists.
    """
    env = os.environ.get("GRAMLIB_MIRROR")
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    candidates = []
    here = Path(__file__).resolve()
    if here.parents[1].name == "src":  # src layout: project root = parent of src/
        candidates.append(here.parents[2].parent / "shared" / "datasets")
    candidates.append(Path.cwd().parent / "shared" / "datasets")
    for cand in candidates:
        if cand.is_dir():
            return cand
    return None


def _resolve_mirror(mirror: str | Path | None | Literal["auto"]) -> Path | None:
    if mirror is None:
        return None
    if isinstance(mirror, str) and mirror == "auto":
        return default_mirror()
    path = Path(mirror).expanduser()
    if not path.is_dir():
        log.warning("dataset mirror %s does not exist; ignoring it", path)
        return None
    return path


def _mirror_files(mirror: Path, name: str, split: str) -> list[Path]:
    stems = DATASETS[name].mirror_test if split == "test" else (split,)
    return [mirror / name / f"{stem}{ext}" for stem in stems for ext in (".npz", ".zip")]


# --------------------------------------------------------------------------- arrays


def _to_nchw(x: np.ndarray, path: Path | str, channels: int | None = None) -> np.ndarray:
    """Validate an NHWC / NHW uint8 array and return it as NCHW."""
    if x.dtype != np.uint8:
        raise DatasetError(f"{path}: images must be uint8, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DatasetError(f"{path}: images must have shape (N, H, W, C) with C in (1, 3), got {x.shape}")
    if channels is not None and x.shape[-1] != channels:
        raise DatasetError(f"{path}: expected {channels} channel(s), got {x.shape[-1]}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _check_labels(y: np.ndarray, n: int, n_classes: int, path: Path | str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise DatasetError(f"{path}: {n} images but labels have shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: labels must be integers, got {y.dtype}")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise DatasetError(f"{path}: labels span [{y.min()}, {y.max()}] but there are {n_classes} classes")
    return y.astype(np.int64, copy=False)


def _make(x_nchw: np.ndarray, y: np.ndarray, classes: Sequence[str], name: str, split: str) -> ImageData:
    return ImageData(
        torch.from_numpy(np.ascontiguousarray(x_nchw)),
        torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
        tuple(str(c) for c in classes),
        name,
        split,
    )


def _resize_chw(img: torch.Tensor, size: int) -> torch.Tensor:
    """Squash-resize a uint8 (C, H, W) or (N, C, H, W) tensor to size x size."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(img, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True)


def _resize_data(data: ImageData, size: int) -> ImageData:
    if tuple(data.x.shape[-2:]) == (size, size):
        return data
    log.info("resizing %s/%s from %s to %dx%d", data.name, data.split, tuple(data.x.shape[-2:]), size, size)
    chunks = [_resize_chw(data.x[i : i + _RESIZE_CHUNK], size) for i in range(0, len(data), _RESIZE_CHUNK)]
    x = torch.cat(chunks) if chunks else data.x.new_empty((0, data.x.shape[1], size, size))
    return ImageData(x.contiguous(), data.y, data.classes, data.name, data.split)


# --------------------------------------------------------------------------- npz / cache


def _read_npz(path: Path, channels: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read an NHWC npz archive with x, y and (optional) classes; raise DatasetError if broken."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"x", "y"} - set(f.files)
            if missing:
                raise DatasetError(f"{path}: npz lacks array(s) {sorted(missing)} (has {f.files})")
            x, y = f["x"], f["y"]
            classes = [str(c) for c in f["classes"]] if "classes" in f.files else None
    except DatasetError:
        raise
    except Exception as e:  # BadZipFile, zlib.error, ValueError, EOFError, OSError ...
        raise DatasetError(f"{path}: cannot read npz archive ({type(e).__name__}: {e})") from e
    if classes is None:
        classes = [str(i) for i in range(int(y.max()) + 1 if y.size else 0)]
    x = _to_nchw(x, path, channels)
    y = _check_labels(y, len(x), len(classes), path)
    return x, y, classes


def _cache_path(root: Path, key: str) -> Path:
    return root / "cache" / f"{key}.npz"


def _write_cache(path: Path, data: ImageData, source: str) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same dir + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                x=data.x.permute(0, 2, 3, 1).numpy(),  # stored NHWC like the mirror
                y=data.y.numpy(),
                classes=np.array(data.classes, dtype=str),
                source=np.array(source),
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("cached %s/%s (%d images) to %s", data.name, data.split, len(data), path)


def _read_cache(path: Path, name: str, split: str, channels: int | None, size: int | None) -> ImageData | None:
    """Return the cached split, or None if absent; a corrupt cache is deleted (with a warning)."""
    if not path.is_file():
        return None
    try:
        x, y, classes = _read_npz(path, channels)
        if size is not None and x.shape[-2:] != (size, size):
            raise DatasetError(f"{path}: images are {x.shape[-2:]}, expected {size}x{size}")
    except DatasetError as e:
        log.warning("corrupt cache file, deleting and rebuilding: %s", e)
        path.unlink(missing_ok=True)
        return None
    log.info("loaded %s/%s from cache %s", name, split, path)
    return _make(x, y, classes, name, split)


# --------------------------------------------------------------------------- zip image folders


def _decode_zip(
    path: Path, size: int | None = None, channels: int = 3, desc: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode a ``CLASS/FILE.jpg`` zip into NCHW uint8 images and labels (sorted class index).

    Args:
        path: the zip file.
        size: if given, images not already size x size are squash-resized to it;
            otherwise all images must share one size.
        channels: 3 decodes as RGB, 1 as grayscale ("L").
        desc: progress-bar label.
    """
    from PIL import Image

    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted(
                (
                    m
                    for m in zf.infolist()
                    if not m.is_dir()
                    and m.filename.lower().endswith(_IMAGE_EXTS)
                    and len(Path(m.filename).parts) >= 2
                    and not m.filename.startswith("__MACOSX")
                ),
                key=lambda m: m.filename,
            )
            if not members:
                raise DatasetError(f"{path}: zip contains no CLASS/FILE images")
            classes = sorted({Path(m.filename).parts[0] for m in members})
            index = {c: i for i, c in enumerate(classes)}
            y = np.array([index[Path(m.filename).parts[0]] for m in members], dtype=np.int64)
            x: np.ndarray | None = None
            for i, m in enumerate(tqdm(members, desc=desc or f"decoding {path.name}", unit="img", leave=False)):
                try:
                    with Image.open(io.BytesIO(zf.read(m))) as im:
                            arr = np.array(im.convert("RGB" if channels == 3 else "L"))
                    if arr.ndim == 2:
                        arr = arr[..., None]
                except (zipfile.BadZipFile, OSError, ValueError) as e:
                    raise DatasetError(f"{path}: cannot decode member {m.filename!r} ({type(e).__name__}: {e})") from e
                if x is None:  # all images share the first one's size: the usual case
                    x = np.empty((len(members), *arr.shape), dtype=np.uint8)
                if arr.shape != x.shape[1:]:
                    if size is None:
                        raise DatasetError(
                            f"{path}: images differ in size ({m.filename!r} is {arr.shape[:2]}, "
                            f"first was {x.shape[1:3]}); pass image_size to resize them"
                        )
                    if x.shape[1:3] != (size, size):  # switch to decoding at size x size
                        done = _resize_data(_make(x[:i].transpose(0, 3, 1, 2), y[:i], classes, "", ""), size)
                        x = np.empty((len(members), size, size, arr.shape[2]), dtype=np.uint8)
                        x[:i] = done.x.permute(0, 2, 3, 1).numpy()
                    if arr.shape[:2] != (size, size):
                        arr = _resize_chw(torch.from_numpy(arr).permute(2, 0, 1), size).permute(1, 2, 0).numpy()
                x[i] = arr
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a readable zip file ({type(e).__name__}: {e})") from e
    assert x is not None
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y, classes


# --------------------------------------------------------------------------- torchvision


def _from_torchvision(name: str, split: str, root: Path, download: bool, size: int | None) -> ImageData:
    import torchvision.datasets as tvd

    info = DATASETS[name]
    tv_root = root / "torchvision"
    cls = getattr(tvd, info.torchvision)
    which = {"train": {"train": split == "train"}, "split": {"split": split},
             "split-val": {"split": "train" if split == "train" else "val"}}[info.torchvision_split]
    ds = cls(str(tv_root), download=download, **which, **dict(info.torchvision_kwargs))
    if info.resized:  # images of mixed sizes: decoded one by one to size x size
        assert size is not None
        x = np.empty((len(ds), info.channels, size, size), dtype=np.uint8)
        y = np.empty(len(ds), dtype=np.int64)
        for i in tqdm(range(len(ds)), desc=f"decoding {name}/{split}", unit="img", leave=False):
            img, label = ds[i]
            t = torch.from_numpy(np.array(img.convert("RGB" if info.channels == 3 else "L")))
            t = t.permute(2, 0, 1) if t.ndim == 3 else t[None]
            x[i] = _resize_chw(t, size).numpy()
            y[i] = label
        names = list(getattr(ds, "wnids", None) or getattr(ds, "classes", []))
        return _make(x, y, names or [str(i) for i in range(info.classes)], name, split)
    data = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    if data.ndim == 4 and data.shape[1] in (1, 3) and data.shape[-1] not in (1, 3):
        data = data.transpose(0, 2, 3, 1)  # SVHN stores (N, C, H, W)
    targets = getattr(ds, "targets", None)
    y = np.asarray(targets if targets is not None else ds.labels, dtype=np.int64).reshape(-1)
    classes = list(info.class_names or getattr(ds, "classes", None) or [str(i) for i in range(info.classes)])
    x = _to_nchw(np.ascontiguousarray(data, dtype=np.uint8), tv_root, info.channels)
    return _make(x, _check_labels(y, len(x), len(classes), tv_root), classes, name, split)


# --------------------------------------------------------------------------- public loaders


def load_split(
    name: str,
    split: str = "train",
    *,
    root: str | Path = "data",
    mirror: str | Path | None | Literal["auto"] = "auto",
    download: bool = True,
    image_size: int | None = None,
) -> ImageData:
    """Load a whole dataset split as uint8 tensors.

    Args:
        name: a :data:`DATASETS` name (case-insensitive; aliases such as "fashion_mnist" accepted).
        split: "train" or "test" ("val" is an alias of "test").
        root: directory for the decoded cache and torchvision downloads.
        mirror: offline mirror directory, "auto" for :func:`default_mirror`, None for none.
        download: let torchvision download the dataset if no other source has it.
        image_size: optional square resize (bilinear, antialiased); datasets of mixed sizes default to their
            registry ``size`` (Imagenette: 128).
    """
    name = _canonical_name(name)
    split = _canonical_split(split)
    if image_size is None and DATASETS[name].resized:
        image_size = DATASETS[name].size
    if image_size is not None and image_size <= 0:
        raise ValueError(f"image_size must be positive, got {image_size}")
    root = Path(root)
    channels = DATASETS[name].channels
    key = f"{name}-{split}" + ("" if image_size is None else f"-{image_size}")
    cache = _cache_path(root, key)

    data = _read_cache(cache, name, split, channels, image_size)
    if data is not None:
        return data

    mirror_dir = _resolve_mirror(mirror)
    source = ""
    if mirror_dir is not None:
        for path in _mirror_files(mirror_dir, name, split):
            if not path.is_file():
                continue
            if path.suffix == ".npz":
                x, y, classes = _read_npz(path, channels)
            else:
                x, y, classes = _decode_zip(path, image_size, channels, desc=f"decoding {name}/{path.name}")
            data, source = _make(x, y, classes, name, split), str(path)
            log.info("loaded %s/%s (%d images) from mirror %s", name, split, len(data), path)
            break

    if data is None:
        tv_root = root / "torchvision"
        try:
            data = _from_torchvision(name, split, root, download, image_size)
        except DatasetError:
            raise
        except (RuntimeError, OSError) as e:  # not found / md5 mismatch / network errors
            looked = (
                "mirror (looked for " + ", ".join(str(f) for f in _mirror_files(mirror_dir, name, split)) + ")"
                if mirror_dir is not None
                else "any mirror (none found or mirror disabled)"
            )
            if download:
                raise DatasetError(
                    f"{name}/{split}: not in {looked}, and torchvision could not download it into "
                    f"{tv_root} ({type(e).__name__}: {e})"
                ) from e
            raise DatasetError(
                f"{name}/{split}: not in {looked} nor in {tv_root}, and download is off "
                f"(download=False); ({type(e).__name__}: {e})"
            ) from e
        source = f"torchvision:{tv_root}"
        log.info("loaded %s/%s (%d images) via torchvision from %s", name, split, len(data), tv_root)

    # cache what was expensive to produce: decoded JPEGs and resized arrays
    decoded = source.endswith(".zip") or (DATASETS[name].resized and source.startswith("torchvision"))
    resized = image_size is not None and tuple(data.x.shape[-2:]) != (image_size, image_size)
    if image_size is not None:
        data = _resize_data(data, image_size)
    if decoded or resized:
        _write_cache(cache, data, source)
    return data


def load_image_folder(path: str | Path, image_size: int, *, root: str | Path = "data") -> ImageData:
    """Load a torchvision ``ImageFolder`` tree (e.g. ImageNet's train/ or val/) once, then from cache.

    Images are resized so the shorter side is ``image_size`` and center-cropped to square.
    The cache is keyed by the resolved path and the size. Name/split are taken from the
    folder's parent and own name (``.../imagenet/val`` -> "imagenet", "val").

    Args:
        path: the folder with one subfolder per class.
        image_size: output side length.
        root: directory holding the decoded cache.
    """
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    if image_size <= 0:
        raise ValueError(f"image_size must be positive, got {image_size}")
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise DatasetError(f"image folder {path} does not exist")
    name, split = path.parent.name or path.name, path.name
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    cache = _cache_path(Path(root), f"imagefolder-{digest}-{image_size}")
    data = _read_cache(cache, name, split, 3, image_size)
    if data is not None:
        return data

    try:
        ds = ImageFolder(str(path))
    except (FileNotFoundError, OSError) as e:
        raise DatasetError(f"{path}: not a valid image-folder tree ({e})") from e
    x = np.empty((len(ds.samples), 3, image_size, image_size), dtype=np.uint8)
    y = np.array([label for _, label in ds.samples], dtype=np.int64)
    for i, (file, _) in enumerate(tqdm(ds.samples, desc=f"decoding {path.name}", unit="img", leave=False)):
        try:
            with Image.open(file) as im:
                im.draft("RGB", (image_size, image_size))  # fast JPEG DCT downscale, stays >= size
                t = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)
        except OSError as e:
            raise DatasetError(f"cannot decode image {file} ({type(e).__name__}: {e})") from e
        t = TF.resize(t, [image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
        x[i] = TF.center_crop(t, [image_size, image_size]).numpy()
    data = _make(x, y, ds.classes, name, split)
    _write_cache(cache, data, str(path))
    return data


# --------------------------------------------------------------------------- statistics / proxies


def normalize_stats(data: ImageData) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of the images, in [0, 1] units.

    Args:
        data: the split to measure.
    """
    if len(data) == 0:
        raise ValueError("cannot compute statistics of an empty dataset")
    c = data.x.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    per_image = data.x[0].numel() // c
    chunk = max(1, (1 << 22) // max(1, data.x[0].numel()))
    for i in range(0, len(data), chunk):
        xb = data.x[i : i + chunk].to(torch.float64)
        s += xb.sum(dim=(0, 2, 3))
        s2 += xb.square().sum(dim=(0, 2, 3))
    n = len(data) * per_image
    mean = s / n
    std = (s2 / n - mean.square()).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())


def make_proxy(
    data: ImageData,
    n_train: int = 500,
    n_val: int = 500,
    *,
    per_class: bool = False,
    seed: int = 0,
) -> ProxySplit:
    """Draw disjoint random train/validation subsets (without replacement).

    Args:
        data: the split to sample from.
        n_train: training samples (per class if ``per_class``).
        n_val: validation samples (per class if ``per_class``).
        per_class: stratify, drawing ``n_train``/``n_val`` from every class.
        seed: seed of the torch.Generator; the same seed gives the same subsets.
    """
    if n_train <= 0 or n_val <= 0:
        raise ValueError(f"n_train and n_val must be positive, got {n_train} and {n_val}")
    g = torch.Generator().manual_seed(seed)
    need = n_train + n_val
    if not per_class:
        if len(data) < need:
            raise ValueError(f"{data.name}/{data.split} has {len(data)} samples, need {n_train}+{n_val}={need}")
        perm = torch.randperm(len(data), generator=g)
        tr, va = perm[:n_train], perm[n_train:need]
    else:
        trs, vas = [], []
        for c, cname in enumerate(data.classes):
            idx = (data.y == c).nonzero().flatten()
            if len(idx) < need:
                raise ValueError(
                    f"{data.name}/{data.split}: class {c} ({cname!r}) has {len(idx)} samples, "
                    f"need {n_train}+{n_val}={need} per class"
                )
            idx = idx[torch.randperm(len(idx), generator=g)]
            trs.append(idx[:n_train])
            vas.append(idx[n_train:need])
        tr, va = torch.cat(trs), torch.cat(vas)
        tr = tr[torch.randperm(len(tr), generator=g)]  # mix classes
        va = va[torch.randperm(len(va), generator=g)]
    return ProxySplit(train=data.subset(tr), val=data.subset(va))


__all__ = [
    "DATASETS",
    "DatasetInfo",
    "dataset_info",
    "augment_for",
    "SPLITS",
    "DatasetError",
    "ImageData",
    "ProxySplit",
    "default_mirror",
    "load_split",
    "load_image_folder",
    "normalize_stats",
    "make_proxy",
]
