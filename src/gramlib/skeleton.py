"""The macro skeleton: everything of a SwiftNet that the search does not choose.

A network is ``stem → [down-sampling → hierarchy] × h → classifier``; the
search fills the hierarchies with DAGs, the :class:`Skeleton` fixes the rest:
the stem's width and stride, the down-sampling before each hierarchy, and the
two wiring rules of every DAG (how a node merges its inputs, which nodes form
the DAG's output). Named layouts (:data:`LAYOUTS`, :func:`layout`) are rows of
a table, so trying another layout is data, not code.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass
from typing import Any, Mapping

#: what may sit before a hierarchy: nothing, 2×2 max or average pooling (stride 2), or a stride-2 3×3 conv + BN + ELU
DOWNSAMPLES = ("none", "max", "avg", "conv")
COMBINE_MODES = ("concat", "sum")
DAG_OUTPUTS = ("leaves", "last")
STEM_STRIDES = (1, 2)
_DOWNSAMPLE_LABELS = {"max": "max-pool", "avg": "avg-pool", "conv": "conv s2"}

#: name -> (stem stride, down-sampling before hierarchy 1, before every later hierarchy); resolutions on a 32x32 input
LAYOUTS: dict[str, tuple[int, str, str]] = {
    # the authors' AutoShrink CIFAR code (pool strides [1, 2, 2]); gramlib's layout so far
    "pool-between": (1, "none", "max"),       # 32/16/8
    "pool-before": (1, "max", "max"),         # 16/8/4
    "stem2-pool-before": (2, "max", "max"),   # 8/4/2
}


class SpaceError(ValueError):
    """A search-space parameter is out of range or malformed.

    Defined here, the module :mod:`gramlib.space` builds on; ``gramlib.space.SpaceError`` is the same class.
    """


@dataclass(frozen=True)
class Skeleton:
    """The fixed frame around the searched DAGs; JSON round-trip with :meth:`to_dict` / :meth:`from_dict`.

    Args:
        stem_channels: width of the 3×3 stem convolution (+ BN + ELU) before hierarchy 1.
        stem_stride: the stem convolution's stride, 1 or 2.
        downsample: one entry per hierarchy, the down-sampling placed before it:
            "none"; "max" or "avg" (2×2 pooling, stride 2, ``ceil_mode=True`` so
            that a 1×1 or odd map never shrinks to 0); "conv" (3×3 conv, stride 2,
            BN, ELU, keeping the channel count). Its length is the number of hierarchies.
        combine: how a node merges several inputs: "concat" (concatenate, then
            one convolution = eq. 4 exactly) or "sum" (zero-pad to the widest,
            add, then convolve: cheaper, shares weights across inputs).
        dag_output: "leaves" (concatenate all nodes without successors, as the
            authors' follow-up code) or "last" (node n-1 only).
    """

    stem_channels: int = 32
    stem_stride: int = 1
    downsample: tuple[str, ...] = ("none", "max", "max")
    combine: str = "concat"
    dag_output: str = "leaves"

    def __post_init__(self) -> None:
        if isinstance(self.downsample, str):  # tuple("max") would silently become ("m", "a", "x")
            raise SpaceError(f"downsample must be a sequence with one entry per hierarchy, "
                             f"got the string {self.downsample!r}")
        object.__setattr__(self, "downsample", tuple(self.downsample))  # JSON gives a list
        checks = [
            (_is_int(self.stem_channels) and self.stem_channels >= 1,
             f"stem_channels must be an integer >= 1, got {self.stem_channels!r}"),
            (_is_int(self.stem_stride) and self.stem_stride in STEM_STRIDES,
             f"stem_stride must be one of {STEM_STRIDES}, got {self.stem_stride!r}"),
            (len(self.downsample) >= 1, "downsample is empty: it needs one entry per hierarchy (at least one)"),
            (all(d in DOWNSAMPLES for d in self.downsample),
             f"downsample entries must be among {DOWNSAMPLES}, got {self.downsample}"),
            (self.combine in COMBINE_MODES, f"combine must be one of {COMBINE_MODES}, got {self.combine!r}"),
            (self.dag_output in DAG_OUTPUTS, f"dag_output must be one of {DAG_OUTPUTS}, got {self.dag_output!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise SpaceError(msg)
        object.__setattr__(self, "stem_channels", int(self.stem_channels))  # numpy integers are not JSON
        object.__setattr__(self, "stem_stride", int(self.stem_stride))

    @property
    def hierarchies(self) -> int:
        return len(self.downsample)

    def resolutions(self, size: int) -> tuple[int, ...]:
        """Side length of the feature maps inside each hierarchy, for a ``size``×``size`` stem input.

        Every stride-2 step maps s to ceil(s/2) (padded conv, ceil-mode pooling),
        e.g. ``layout("stem2-pool-before").resolutions(32) == (8, 4, 2)``.
        ``size`` is what reaches the stem, i.e. after any input-adapter layers.
        """
        if not _is_int(size) or size < 1:
            raise SpaceError(f"input size must be a positive integer, got {size!r}")
        s = -(-size // self.stem_stride)
        out = []
        for d in self.downsample:
            if d != "none":
                s = -(-s // 2)
            out.append(s)
        return tuple(out)

    def describe(self) -> str:
        """A one-line summary (the heading of :func:`~gramlib.drawing.draw_architecture`), e.g.
        ``stem 3×3·32 (stride 1) → H1 → max-pool → H2 → max-pool → H3; concat, leaves``."""
        parts = [f"stem 3×3·{self.stem_channels} (stride {self.stem_stride})"]
        for h, d in enumerate(self.downsample):
            parts += ([] if d == "none" else [_DOWNSAMPLE_LABELS[d]]) + [f"H{h + 1}"]
        return " → ".join(parts) + f"; {self.combine}, {self.dag_output}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["downsample"] = list(self.downsample)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Skeleton:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise SpaceError(f"unknown skeleton fields: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_flat(cls, d: Mapping[str, Any], hierarchies: int) -> Skeleton:
        """The skeleton of a gramlib file written before skeletons existed.

        Those files stored ``stem_channels``, ``pool``, ``combine`` and
        ``dag_output`` side by side and always meant a stride-1 stem and
        ``pool`` between hierarchies (the "pool-between" layout). Missing keys
        take the old defaults; other keys of ``d`` are ignored.
        """
        return cls(stem_channels=d.get("stem_channels", 32), stem_stride=1,
                   downsample=("none",) + (d.get("pool", "max"),) * (hierarchies - 1),
                   combine=d.get("combine", "concat"), dag_output=d.get("dag_output", "leaves"))


def layout(name: str, hierarchies: int = 3, **fields: Any) -> Skeleton:
    """A skeleton with a named layout of :data:`LAYOUTS`, e.g. ``layout("stem2-pool-before", 3, stem_channels=16)``.

    Args:
        name: a key of :data:`LAYOUTS`.
        hierarchies: number of hierarchies (the length of ``downsample``).
        **fields: the other :class:`Skeleton` fields: ``stem_channels``,
            ``combine``, ``dag_output`` (the layout sets ``stem_stride`` and ``downsample``).
    """
    if name not in LAYOUTS:
        raise SpaceError(f"unknown skeleton layout {name!r}; choose one of {sorted(LAYOUTS)}")
    if not _is_int(hierarchies) or hierarchies < 1:
        raise SpaceError(f"hierarchies must be an integer >= 1, got {hierarchies!r}")
    allowed = {"stem_channels", "combine", "dag_output"}
    if set(fields) - allowed:
        raise SpaceError(f"layout() takes the skeleton fields {sorted(allowed)}, got {sorted(set(fields) - allowed)}")
    stride, first, later = LAYOUTS[name]
    return Skeleton(stem_stride=stride, downsample=(first,) + (later,) * (hierarchies - 1), **fields)


def as_skeleton(skeleton: Skeleton | Mapping[str, Any] | None, hierarchies: int) -> Skeleton:
    """``skeleton`` checked against a network of ``hierarchies`` hierarchies.

    Args:
        skeleton: a :class:`Skeleton`, its dict (:meth:`Skeleton.from_dict`), or
            None for ``layout("pool-between", hierarchies)``.
        hierarchies: must equal the skeleton's number of down-sampling entries.
    """
    if skeleton is None:
        return layout("pool-between", hierarchies)
    if isinstance(skeleton, Mapping):
        skeleton = Skeleton.from_dict(skeleton)
    if not isinstance(skeleton, Skeleton):
        raise SpaceError(f"skeleton must be a Skeleton, a dict or None, got {type(skeleton).__name__}")
    if skeleton.hierarchies != hierarchies:
        raise SpaceError(f"the skeleton has {skeleton.hierarchies} down-sampling entries (downsample="
                         f"{skeleton.downsample}) but there are {hierarchies} hierarchies: give one entry per "
                         f"hierarchy, e.g. layout(name, {hierarchies})")
    return skeleton


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)
