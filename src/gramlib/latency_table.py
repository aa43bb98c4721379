"""A per-operation latency lookup table: deterministic latency for a reproducible search (as FBNet does).

Measured latency makes Algorithm 1's reward, and so the meta-graph, depend on
timing noise: two searches with the same seed part after a few iterations.
A :class:`LatencyTable` is measured once per machine and stored as a JSON
artefact; a candidate's latency is then *estimated* as the sum of its
operations' entries, the same number every time.

An operation is one conv–BN–ELU block (:class:`~gramlib.model.ConvBNAct`) of
kernel k, stride s and c_out filters on an h×w map; its latency is measured at
a grid of input widths c_in and interpolated linearly between them (a
convolution's work is linear in c_in). DAG nodes take every operation of the
space's menu at every hierarchy's resolution; the stem and any other block of
the skeleton are measured at the widths they have. The skeleton's remaining
layers (pools, concatenations, classifier) are the same for every candidate of
a space and are left out: estimates rank candidates, and the search's
baseline absorbs a constant. ``benchmarks/latency_table.py`` reports the rank
agreement of estimates with measured latency.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .io import atomic_write_json
from .profiling import cpu_name
from .progress import progress_bar as tqdm

FORMAT = "gramlib.latency_table/1"


class LatencyTableError(ValueError):
    """A table is unreadable, was measured for another space or input, or lacks an operation."""


def _key(kernel: int, stride: int, cout: int, side: int) -> str:
    return f"k{kernel}-s{stride}-c{cout}-{side}px"


def _blocks(model: nn.Module, input_shape: tuple[int, int, int]) -> list[dict[str, Any]]:
    """Every conv-BN-ELU block a forward pass of ``model`` runs: kernel, stride, widths, input side, and whether
    it is a DAG node (whose input width varies between candidates)."""
    from .model import ConvBNAct, DagBlock

    nodes = {id(m) for blk in model.modules() if isinstance(blk, DagBlock) for m in blk.nodes.values()}
    seen: list[dict[str, Any]] = []

    def hook(mod: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        conv = mod[0]
        seen.append({"kernel": conv.kernel_size[0], "stride": conv.stride[0], "cin": conv.in_channels,
                     "cout": conv.out_channels, "side": int(args[0].shape[-1]), "node": id(mod) in nodes})

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ConvBNAct)]
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=p.dtype, device=p.device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return seen


def space_fingerprint(space: Any, input_shape: tuple[int, int, int]) -> str:
    """What a table is valid for: the search space (its ops, skeleton, sizes) and the input shape."""
    blob = json.dumps({"space": space.to_dict(), "input": list(input_shape)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def machine() -> dict[str, Any]:
    return {"cpu": cpu_name(), "machine": platform.machine(), "torch": torch.__version__}


@dataclass
class LatencyTable:
    """Per-operation batch-1 latency (ms) of one machine, for one search space and input shape.

    Args:
        entries: operation key (kernel, stride, filters, input side) → {"cin": widths, "ms": latency at each}.
        fingerprint: :func:`space_fingerprint` of the space and input it was measured for.
        threads: CPU threads during measurement.
        info: machine, torch version, runs: provenance, not used in estimates.
    """

    entries: dict[str, dict[str, list[float]]]
    fingerprint: str
    threads: int | None = 1
    info: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- building

    @classmethod
    def measure(cls, space: Any, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10, *,
                runs: int = 20, warmup: int = 5, threads: int | None = 1, progress: bool = True) -> LatencyTable:
        """Measure every operation a candidate of ``space`` can contain, at ``input_shape``."""
        from .metagraph import MetaGraph, UpdateRule
        from .model import ConvBNAct, build_model
        from .profiling import measure_latency
        from .space import parse_op

        full = MetaGraph(space, UpdateRule(), seed=0).prune(0.0)  # every edge kept: every node live
        blocks = _blocks(build_model(full, num_classes, input_shape[0]), input_shape)
        node_sides = sorted({b["side"] for b in blocks if b["node"]}, reverse=True)
        max_cin = max([b["cin"] for b in blocks if b["node"]] or [1])
        grid = sorted({2 ** i for i in range(int(np.ceil(np.log2(max_cin))) + 1)} | {max_cin})
        jobs: dict[str, tuple[int, int, int, int, list[int]]] = {}
        ops = {space.capped(op) for op in space.ops} | {parse_op(op) for op in space.ops}
        ops |= {(b["kernel"], b["cout"]) for b in blocks if b["node"]}
        for k, f in sorted(ops):
            for side in node_sides:
                jobs[_key(k, 1, f, side)] = (k, 1, f, side, grid)
        for b in blocks:  # the skeleton's own blocks (stem, adapters, stride-2 transitions), at their widths
            if not b["node"]:
                jobs.setdefault(_key(b["kernel"], b["stride"], b["cout"], b["side"]),
                                (b["kernel"], b["stride"], b["cout"], b["side"], [b["cin"]]))
        entries: dict[str, dict[str, list[float]]] = {}
        todo = [(key, job, cin) for key, job in jobs.items() for cin in job[4]]
        for key, (k, s, f, side, _), cin in tqdm(todo, desc="latency table", unit="op", disable=not progress):
            torch.manual_seed(0)
            block = ConvBNAct(cin, f, k, stride=s)
            ms = measure_latency(block, (cin, side, side), runs=runs, warmup=warmup, threads=threads).median_ms
            e = entries.setdefault(key, {"cin": [], "ms": []})
            e["cin"].append(cin)
            e["ms"].append(round(ms, 5))
        return cls(entries, space_fingerprint(space, input_shape), threads,
                   {**machine(), "runs": runs, "warmup": warmup, "input": list(input_shape)})

    # ----------------------------------------------------------------- using

    def block_ms(self, kernel: int, stride: int, cin: int, cout: int, side: int) -> float:
        """One block's latency, interpolated linearly in c_in (extrapolated beyond the measured widths)."""
        key = _key(kernel, stride, cout, side)
        e = self.entries.get(key)
        if e is None:
            raise LatencyTableError(f"the latency table has no entry {key} (c_in {cin}): it was measured for "
                                    "another search space or input; delete it to measure again")
        xs, ys = e["cin"], e["ms"]
        if len(xs) == 1:
            return float(ys[0]) * cin / xs[0]
        i = int(np.clip(np.searchsorted(xs, cin) - 1, 0, len(xs) - 2))
        return float(ys[i] + (ys[i + 1] - ys[i]) * (cin - xs[i]) / (xs[i + 1] - xs[i]))

    def estimate_ms(self, model: nn.Module, input_shape: tuple[int, int, int]) -> float:
        """A model's latency estimate: the sum of its conv-BN-ELU blocks' entries (deterministic)."""
        return float(sum(self.block_ms(b["kernel"], b["stride"], b["cin"], b["cout"], b["side"])
                         for b in _blocks(model, input_shape)))

    def check(self, space: Any, input_shape: tuple[int, int, int]) -> None:
        if self.fingerprint != space_fingerprint(space, input_shape):
            raise LatencyTableError("the latency table was measured for another search space or input shape; "
                                    "delete it (or name another file) to measure again")

    # ----------------------------------------------------------------- files

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "fingerprint": self.fingerprint, "threads": self.threads, "info": self.info,
                "entries": self.entries}

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            if d.get("format") != FORMAT:
                raise LatencyTableError(f"not a gramlib latency table (format={d.get('format')!r})")
            return cls(d["entries"], d["fingerprint"], d.get("threads"), d.get("info", {}))
        except (OSError, json.JSONDecodeError, KeyError, AttributeError, LatencyTableError) as e:
            raise LatencyTableError(f"cannot read latency table {path}: {e}") from e

    @classmethod
    def load_or_measure(cls, path: str | Path, space: Any, input_shape: tuple[int, int, int], num_classes: int = 10,
                        *, threads: int | None = 1, progress: bool = True) -> LatencyTable:
        """The table stored at ``path`` (checked against the space and input), or a new one measured and stored
        there: measured once per machine, so every search after it sees the same latencies."""
        path = Path(path)
        if path.exists():
            table = cls.load(path)
            table.check(space, input_shape)
            return table
        table = cls.measure(space, input_shape, num_classes, threads=threads, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.save(path)
        return table
