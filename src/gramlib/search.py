"""The GRAM search loop: sample → proxy-train → evaluate → update, checkpointed every iteration.

Files written in the output folder:

* ``config.json``   — search space, update rule and search settings (a resumed
  run must match them);
* ``metagraph.json`` — the meta-graph after the last completed iteration,
  replaced atomically;
* ``history.jsonl`` — one JSON line per iteration: architecture, accuracy,
  latency, MACs, reward, β, timings.

A run killed at any point resumes from ``metagraph.json``: history lines past
the checkpoint are dropped and redone. Every random draw of a candidate
(sampling, weight initialisation, shuffling) is seeded from (seed, candidate
index), so the redo is identical. Measured latency is the exception (wall-clock
time): use ``cost="log10_macs"`` or ``"none"`` when bit-identical resumption
matters.

With ``workers = k`` (:mod:`gramlib.executors`), k candidates are in flight:
each is sampled from the meta-graph as it stands when it is submitted, and its
update is applied when its result is handed back; ``sampled_at`` and
``staleness`` in ``history.jsonl`` record how many updates it missed. The
checkpoint stores the candidates in flight (architecture, index, version) in
the same file as the meta-graph; a resumed run re-submits them unchanged, so no
iteration is lost or counted twice. A candidate that raises (or whose worker
dies) is re-submitted up to ``max_retries`` times, then recorded as failed
(``failed: true``, no update), and the search goes on. ``workers = 1`` is the
sequential Algorithm 1.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from .progress import progress_bar as tqdm

from .architecture import Architecture
from .executors import EXECUTORS, make_executor
from .fused import use_fused
from .data import ProxySplit, load_split, make_proxy, normalize_stats
from .io import atomic_write_json, atomic_write_text
from .latency_table import LatencyTable, space_fingerprint
from .metagraph import MetaGraph, UpdateRule
from .model import build_model
from .profiling import count_cost_by_shapes, measure_latency, num_threads
from .space import SearchSpace
from .train import RECIPES, DivergedError, Recipe, evaluate, Normalizer, resolve_device, train

log = logging.getLogger(__name__)

MODES = ("gram", "random")
LATENCY_SOURCES = ("measured", "table")


class SearchError(RuntimeError):
    """The output folder holds a run with other settings, or a file there is unreadable."""


@dataclass(frozen=True)
class SearchConfig:
    """Settings of a search run (the space and the update rule are separate).

    Args:
        iterations: T of Algorithm 1.
        mode: "gram" (update the meta-graph) or "random" (same sampler and budget,
            weights never updated: the ablation baseline).
        dataset: dataset the proxy set is drawn from.
        proxy_train, proxy_val: proxy set sizes (per class if ``per_class``).
        per_class: stratified proxy sampling.
        proxy_recipe: how each candidate is trained.
        latency: where a candidate's latency comes from: "measured" (timed on this machine, as the paper does:
            not reproducible, since timing noise enters the reward when the rule's cost is latency) or "table"
            (estimated from a per-operation :class:`~gramlib.latency_table.LatencyTable` measured once per
            machine: the same seed gives the same meta-graph).
        latency_table: the table's file (default ``<data_root>/latency_tables/<space and input>-<threads>t.json``;
            measured there if missing).
        latency_runs, latency_warmup, latency_threads: batch-1 latency measurement.
        channels_last: train and evaluate candidates in the channels-last memory
            format (about 18 % faster on 2 CPU cores for the cpu profile).
        fused_bn_elu: proxy-train candidates with the fused BatchNorm + ELU kernel (:mod:`gramlib.fused`).
            Off by default: it changes training by float rounding only, but a search's path is chaotic in its
            rewards (on one machine, the quick search with it on reached another meta-graph than with it off), and
            a search's folder is keyed by what it computes, so with it off an existing folder resumes under the
            arithmetic it was made with.
        seed: seeds the meta-graph, the proxy split and every candidate.
        threads: torch intra-op threads for the whole run (None: torch's default).
        device: "auto" uses a GPU when present.
        mirror, data_root: where datasets are read (see :func:`gramlib.data.load_split`).
        workers: candidates in flight (k); 1 is the sequential Algorithm 1.
        executor: "local" (in-process; k > 1 simulates k workers) or "ray" (:mod:`gramlib.executors`).
        ordered: apply results in submission order (reproducible on any executor) rather than as they finish.
        max_retries: re-submissions of a candidate that raises before it is recorded as failed.
        ray_address: a running Ray cluster ("auto"); None starts a local Ray (or uses RAY_ADDRESS).
        cpus_per_candidate, gpus_per_candidate: one candidate's Ray resource request.
        ray_num_cpus: CPUs a local Ray may use (None: all).
    """

    iterations: int = 1000
    mode: str = "gram"
    dataset: str = "cifar10"
    proxy_train: int = 500
    proxy_val: int = 500
    per_class: bool = False
    proxy_recipe: Recipe = field(default_factory=lambda: RECIPES["proxy"])
    latency: str = "measured"
    latency_table: str | None = None
    latency_runs: int = 20
    latency_warmup: int = 3
    latency_threads: int | None = 1
    channels_last: bool = True
    fused_bn_elu: bool = False
    seed: int = 0
    threads: int | None = None
    device: str = "auto"
    mirror: str | None = "auto"
    data_root: str = "data"
    workers: int = 1
    executor: str = "local"
    ordered: bool = True
    max_retries: int = 2
    ray_address: str | None = None
    cpus_per_candidate: float = 1
    gpus_per_candidate: float = 0
    ray_num_cpus: int | None = None

    #: settings that say where candidates run, not what the search computes: a resumed run may change them
    RUNTIME = ("executor", "ray_address", "cpus_per_candidate", "gpus_per_candidate", "ray_num_cpus", "max_retries")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.latency not in LATENCY_SOURCES:
            raise ValueError(f"latency must be one of {LATENCY_SOURCES}, got {self.latency!r}")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        for name in ("iterations", "seed", "proxy_train", "proxy_val", "workers", "max_retries"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"SearchConfig.{name} must be an int, got {v!r}")
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.workers < 1 or self.max_retries < 0:
            raise ValueError(f"workers must be >= 1 and max_retries >= 0, got {self.workers}, {self.max_retries}")
        if self.proxy_train < 1 or self.proxy_val < 1:
            raise ValueError(f"proxy sizes must be >= 1, got {self.proxy_train}, {self.proxy_val}")
        if isinstance(self.proxy_recipe, dict):
            object.__setattr__(self, "proxy_recipe", Recipe(**self.proxy_recipe))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchConfig:
        d = dict(d)
        if "proxy_recipe" in d and isinstance(d["proxy_recipe"], dict):
            r = dict(d["proxy_recipe"])
            r["milestones"] = tuple(r.get("milestones", (0.5, 0.75)))
            d["proxy_recipe"] = Recipe(**r)
        return cls(**d)


def latency_table_for(space: SearchSpace, config: SearchConfig, proxy: ProxySplit) -> LatencyTable:
    """The latency table a ``latency="table"`` search reads: ``config.latency_table``, or one per space, input and
    thread count under ``<data_root>/latency_tables/``; measured and stored there the first time."""
    shape = tuple(proxy.train.x.shape[1:])
    path = config.latency_table or (Path(config.data_root) / "latency_tables" /
                                    f"{space_fingerprint(space, shape)}-{config.latency_threads or 'all'}t.json")
    return LatencyTable.load_or_measure(path, space, shape, len(proxy.train.classes), threads=config.latency_threads,
                                        progress=False)


def candidate_seed(seed: int, iteration: int) -> int:
    return (int(seed) * 1_000_003 + int(iteration) * 7919 + 17) % (2**31 - 1)


def score_candidate(arch: Architecture, proxy: ProxySplit, config: SearchConfig, seed: int,
                    table: LatencyTable | None = None) -> dict[str, Any]:
    """Build, proxy-train and evaluate one candidate; returns its figures and a time split.

    Its latency is measured, or with a ``table`` estimated from it (deterministic).

    A candidate whose loss goes NaN/inf gets ``accuracy = nan`` and ``diverged = True``.
    """
    dev = resolve_device(config.device)
    times: dict[str, float] = {}
    t = time.perf_counter()
    torch.manual_seed(seed)
    c, h, w = proxy.train.x.shape[1:]
    model = build_model(arch, num_classes=len(proxy.train.classes), in_channels=c, input_size=h).to(dev)
    cost = count_cost_by_shapes(model, (c, h, w))  # fvcore's numbers (tests hold them equal), without its trace
    times["build"] = time.perf_counter() - t
    mean, std = normalize_stats(proxy.train)
    t = time.perf_counter()
    diverged = False
    try:
        with use_fused(config.fused_bn_elu):  # here, not around the search: Ray runs this in other processes
            train(model, proxy.train.x, proxy.train.y, config.proxy_recipe, mean=mean, std=std, device=dev,
                  seed=seed, progress=False, channels_last=config.channels_last)
    except DivergedError as e:
        log.warning("candidate diverged, its update is skipped: %s", e)
        diverged = True
    times["train"] = time.perf_counter() - t
    t = time.perf_counter()
    acc = math.nan
    if not diverged:
        ev = evaluate(model, proxy.val.x.to(dev), proxy.val.y.to(dev), Normalizer(mean, std, dev),
                      channels_last=config.channels_last)
        acc = ev["top1"]
    times["eval"] = time.perf_counter() - t
    t = time.perf_counter()
    if table is not None:
        latency_ms = table.estimate_ms(model.to("cpu"), (c, h, w))
    else:
        latency_ms = measure_latency(model, (c, h, w), runs=config.latency_runs, warmup=config.latency_warmup,
                                     threads=config.latency_threads).median_ms
    times["latency"] = time.perf_counter() - t
    return {"accuracy": acc, "diverged": diverged, "latency_ms": latency_ms, "macs": cost.macs,
            "params": cost.params, "times": times}


def _read_history(path: Path, upto: int) -> list[dict[str, Any]]:
    """History rows with ``iteration <= upto``; a torn last line (killed mid-write) is dropped."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            if row["iteration"] > upto:
                break
            rows.append(row)
    return rows


def load_history(out_dir: str | Path) -> list[dict[str, Any]]:
    """All completed iterations of a search folder (consistent with its meta-graph checkpoint)."""
    out = Path(out_dir)
    mg = json.loads((out / "metagraph.json").read_text())
    return _read_history(out / "history.jsonl", mg["iteration"])


def _identity(settings: dict[str, Any]) -> dict[str, Any]:
    """What makes two searches the same run: every setting but the iteration budget (more iterations resume a
    run) and the runtime settings (where candidates run), in JSON form."""
    skip = ("iterations",) + SearchConfig.RUNTIME
    return json.loads(json.dumps({**settings, "search": {k: v for k, v in settings["search"].items() if k not in skip}}))


def _identity_defaults() -> dict[str, Any]:
    return _identity({"space": {}, "rule": asdict(UpdateRule()), "search": SearchConfig().to_dict()})


def _non_default(d: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if k in defaults and isinstance(v, dict) and isinstance(defaults[k], dict):
            v = _non_default(v, defaults[k])
            if v:
                out[k] = v
        elif k not in defaults or v != defaults[k]:
            out[k] = v
    return out


def run_name(space: SearchSpace, rule: UpdateRule, config: SearchConfig) -> str:
    """The folder name of a search, keyed by its settings: ``<mode>-<dataset>-seed<seed>-<hash>``.

    The hash covers everything that changes what the search computes (space, update rule, proxy, seed ...) and
    leaves out the iteration budget and the runtime settings (:data:`SearchConfig.RUNTIME`), so a longer run of
    the same search resumes in the same folder while any other change starts a new one beside it.
    """
    import hashlib

    ident = _identity({"space": space.to_dict(), "rule": asdict(rule), "search": config.to_dict()})
    # settings at their default are left out, so a field added to gramlib later (at a default that keeps the old
    # behaviour) does not rename existing searches
    defaults = _identity_defaults()
    ident["rule"] = _non_default(ident["rule"], defaults["rule"])
    ident["search"] = _non_default(ident["search"], defaults["search"])
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    return f"{config.mode}-{config.dataset}-seed{config.seed}-{digest}"


def search_settings(profile: str, proxy: dict[str, Any] | None = None, **search: Any) -> tuple[Any, SearchConfig]:
    """The profile and search configuration a params.yaml ``search`` section describes: the named profile with the
    ``search`` fields over its own (``iterations``, ``seed``, ``workers`` ...), then the ``proxy`` settings
    (:func:`gramlib.evidence.proxy_variant`). ``threads=None`` (params.yaml's ``null``) keeps the profile's thread
    count. The search notebook, its part stage (the random twin, in a stage of its own) and the evidence notebook's
    searches all build theirs here, so the twin is the notebook's search in ``mode="random"``."""
    from .evidence import proxy_variant  # evidence imports this module
    from .profiles import get_profile

    if search.get("threads", 0) is None:  # null: the profile's, not torch's default
        search = {k: v for k, v in search.items() if k != "threads"}
    p = get_profile(profile, search=search)
    return p, proxy_variant(p.search, proxy or {})


def search_in(root: str | Path, space: SearchSpace, rule: UpdateRule, config: SearchConfig, *,
              proxy: ProxySplit | None = None, progress: bool = True) -> tuple[Path, MetaGraph]:
    """Run, resume or reuse the search ``config`` describes in its own folder under ``root`` (:func:`run_name`);
    returns the folder and the meta-graph after exactly ``config.iterations`` iterations.

    A folder that already holds more iterations is not searched again: its meta-graph at ``config.iterations``
    is rebuilt from the history (:func:`replay`), so lowering the budget gives what a run of that length gives
    (the weights; the sampler's random state is the replay's).
    """
    folder = Path(root) / run_name(space, rule, config)
    mg_path = folder / "metagraph.json"
    # read here although search() reads it again: a replay must not first pay for loading the proxy data
    if mg_path.exists():
        held = MetaGraph.load(mg_path, expected_space=space).iteration
        if held > config.iterations:
            log.info("%s holds %d iterations: the meta-graph at %d is replayed from its history", folder, held,
                     config.iterations)
            return folder, meta_graph_at(folder, config.iterations)
    return folder, search(space, rule, config, folder, proxy=proxy, progress=progress)


def meta_graph_at(out_dir: str | Path, iteration: int) -> MetaGraph:
    """The meta-graph of a search folder after ``iteration`` iterations, rebuilt from its history.

    Raises:
        SearchError: the folder holds fewer iterations.
    """
    for it, mg in replay(out_dir, every=1):
        if it == iteration:
            return mg
    raise SearchError(f"{out_dir} holds fewer than {iteration} iterations")


def publish(out_dir: str | Path, mg: MetaGraph, dest: str | Path) -> Path:
    """Write the meta-graph a search produced, with its settings and origin, to ``dest`` (what later stages read:
    ``dest/metagraph.json``, ``dest/config.json``, ``dest/source.json``); returns ``dest``."""
    out, dest = Path(out_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    settings = json.loads((out / "config.json").read_text())
    settings["search"]["iterations"] = mg.iteration
    atomic_write_json(dest / "config.json", settings)
    mg.save(dest / "metagraph.json")
    atomic_write_json(dest / "source.json", {"run": out.name, "iteration": mg.iteration,
                                             "history": f"{out.name}/history.jsonl"})
    return dest


@dataclass
class Candidate:
    """A sampled architecture on its way through an executor.

    Args:
        index: submission order; seeds the candidate's training (``candidate_seed(seed, index)``).
        sampled_at: the meta-graph's iteration (version) when it was sampled.
        arch: the architecture.
        attempts: failed attempts so far.
    """

    index: int
    sampled_at: int
    arch: Architecture
    attempts: int = 0
    sample_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "sampled_at": self.sampled_at, "attempts": self.attempts,
                "arch": self.arch.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(int(d["index"]), int(d["sampled_at"]), Architecture.from_dict(d["arch"]), int(d.get("attempts", 0)))


def search(space: SearchSpace, rule: UpdateRule, config: SearchConfig, out_dir: str | Path, *,
           proxy: ProxySplit | None = None, progress: bool = True, stop_after: int | None = None) -> MetaGraph:
    """Run (or resume) a GRAM search and return the trained meta-graph.

    Args:
        space, rule, config: what to search and how.
        out_dir: folder for ``config.json``, ``metagraph.json`` and ``history.jsonl``.
            An existing run there with the same settings is resumed; one with
            other settings raises :class:`SearchError`.
        proxy: a ready proxy split (default: drawn from ``config.dataset``).
        progress: show a tqdm bar.
        stop_after: run at most this many iterations in this call (for
            time-boxed sessions and tests), then return.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"space": space.to_dict(), "rule": asdict(rule), "search": config.to_dict()}
    cfg_path, mg_path, hist_path = out / "config.json", out / "metagraph.json", out / "history.jsonl"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise SearchError(f"{cfg_path} is not a readable search configuration (invalid JSON: {e}); restore it, "
                              "or delete the folder to start again") from e
        try:  # files written by older gramlib versions: compare in today's form (new fields take their defaults)
            old["space"] = SearchSpace.from_dict(old["space"]).to_dict()
            old["rule"] = asdict(UpdateRule(**old["rule"]))
            old["search"] = SearchConfig.from_dict(old["search"]).to_dict()  # e.g. recipe fields added since
        except (KeyError, TypeError, ValueError) as e:
            raise SearchError(f"{cfg_path} is not a readable search configuration: {e}") from e
        if _identity(old) != _identity(settings):
            raise SearchError(f"{out} holds a search with other settings; use another folder or delete it")
    earlier = _read_history(hist_path, upto=10**12)
    # one row without a checkpoint is a kill before the first save (that iteration is redone); more means the
    # checkpoint was lost, and resuming from 0 would silently rewrite the history
    if not mg_path.exists() and len(earlier) > 1:
        raise SearchError(f"{hist_path} holds {len(earlier)} iterations but {mg_path.name} is missing: restore the "
                          "checkpoint, or delete the folder to start again")
    if proxy is None:  # before anything is written: a bad dataset must not leave a config.json behind
        data = load_split(config.dataset, "train", root=config.data_root, mirror=config.mirror)
        proxy = make_proxy(data, config.proxy_train, config.proxy_val, per_class=config.per_class, seed=config.seed)
    queued: list[Candidate] = []  # in flight at the last checkpoint: re-submitted unchanged, lowest index first
    if mg_path.exists():
        mg, extra = MetaGraph.load_with_extra(mg_path, expected_space=space)
        if asdict(mg.rule) != asdict(rule) or mg.seed != config.seed:
            raise SearchError(f"{mg_path} was written with another update rule or seed")
        if mg.iteration > config.iterations:
            raise SearchError(f"{out} holds {mg.iteration} iterations, more than the {config.iterations} asked for: "
                              "use another folder (the meta-graph at an earlier iteration: gramlib.search.replay)")
        try:
            queued = sorted((Candidate.from_dict(c) for c in extra.get("inflight", [])), key=lambda c: c.index)
        except (KeyError, TypeError, ValueError) as e:
            raise SearchError(f"{mg_path}: unreadable candidates in flight: {e!r}") from e
        queued = queued[: config.iterations - mg.iteration]
        log.info("resuming search in %s at iteration %d (%d candidates in flight)", out, mg.iteration, len(queued))
    else:
        mg = MetaGraph(space, rule, seed=config.seed)
    atomic_write_json(cfg_path, settings)  # the iteration budget may grow on resume
    history = list(itertools.takewhile(lambda r: r["iteration"] <= mg.iteration, earlier))  # as _read_history
    if len(history) != mg.iteration:
        raise SearchError(f"{hist_path} holds {len(history)} iterations but the meta-graph {mg.iteration}")
    # drop any row written after the last checkpoint: that iteration is redone identically
    atomic_write_text(hist_path, "".join(json.dumps(r) + "\n" for r in history))

    todo = config.iterations - mg.iteration
    if stop_after is not None:
        todo = min(todo, stop_after)
    t_run = time.perf_counter() - (history[-1]["wall_seconds"] if history else 0.0)
    executor = make_executor(config.executor, address=config.ray_address, cpus=config.cpus_per_candidate,
                             gpus=config.gpus_per_candidate, num_cpus=config.ray_num_cpus)
    shared_proxy = executor.put(proxy)
    table_arg: tuple[Any, ...] = ()
    if config.latency == "table":  # measured once per machine, before the first candidate; then only read
        table_arg = (executor.put(latency_table_for(space, config, proxy)),)
    in_flight: dict[int, Candidate] = {}
    next_index = mg.iteration + len(queued)  # candidates sampled so far (applied + in flight; indices 0, 1, ...)

    def submit(c: Candidate) -> None:
        in_flight[c.index] = c
        executor.submit(c.index, score_candidate, c.arch, shared_proxy, config, candidate_seed(config.seed, c.index),
                        *table_arg)

    def fill(applied: int) -> None:
        """Sample and submit until ``workers`` are in flight (and no more than this call's share of iterations)."""
        nonlocal next_index
        while len(in_flight) < config.workers and applied + len(in_flight) < todo:
            if queued:
                submit(queued.pop(0))
                continue
            t0 = time.perf_counter()
            arch = mg.sample()
            c = Candidate(next_index, mg.iteration, arch, sample_seconds=time.perf_counter() - t0)
            next_index += 1
            submit(c)

    with num_threads(config.threads), open(hist_path, "a") as hist, \
            tqdm(total=config.iterations, initial=mg.iteration, desc=f"search ({config.mode})",
                 disable=not progress) as bar:
        try:
            applied = 0
            fill(applied)
            while in_flight:
                index, res, err = executor.next_result(config.ordered)
                c = in_flight[index]
                if err is not None:
                    c.attempts += 1
                    if c.attempts <= config.max_retries:
                        log.warning("candidate %d failed (attempt %d of %d), re-submitted: %r", c.index, c.attempts,
                                    config.max_retries + 1, err)
                        submit(c)
                        continue
                    log.warning("candidate %d failed %d times, recorded as failed: %r", c.index, c.attempts, err)
                    res = {"accuracy": math.nan, "diverged": False, "latency_ms": None, "macs": None,
                           "params": None, "times": {}}
                del in_flight[index]
                failed = err is not None
                staleness = mg.iteration - c.sampled_at
                t0 = time.perf_counter()
                upd: dict[str, Any] = {}
                if failed or res["diverged"] or config.mode == "random":
                    beta = mg.beta
                    mg.skip()
                    upd = {"reward": None, "beta": beta}
                else:
                    upd = mg.update(c.arch, res["accuracy"], latency_ms=res["latency_ms"], macs=res["macs"])
                res["times"]["sample"] = c.sample_seconds
                res["times"]["update"] = time.perf_counter() - t0
                applied += 1
                arch = c.arch
                row = {"iteration": mg.iteration, "accuracy": None if failed or res["diverged"] else res["accuracy"],
                       "diverged": res["diverged"], "latency_ms": res["latency_ms"], "macs": res["macs"],
                       "params": res["params"], "reward": upd.get("reward"), "beta": upd["beta"],
                       "advantage": upd.get("advantage"), "cost": upd.get("cost"),
                       "edges": arch.num_edges, "active_nodes": arch.num_active_nodes,
                       "entropy": mg.edge_entropy(), "times": res["times"],
                       "wall_seconds": time.perf_counter() - t_run, "candidate": c.index,
                       "sampled_at": c.sampled_at, "staleness": staleness, "attempts": c.attempts + (0 if failed else 1),
                       "failed": failed, "error": repr(err)[:500] if failed else None, "arch": arch.to_dict()}
                fill(applied)  # the next candidates are sampled from the updated meta-graph, then saved with it
                # history first, then the checkpoint: a kill between them only means the row is redone
                hist.write(json.dumps(row) + "\n")
                hist.flush()
                os.fsync(hist.fileno())
                pending = sorted([*in_flight.values(), *queued], key=lambda x: x.index)
                mg.save(mg_path, extra={"inflight": [x.to_dict() for x in pending]} if pending else None)
                bar.update()
                macs = res["macs"] / 1e6 if res["macs"] else None
                bar.set_postfix(acc=row["accuracy"], beta=round(mg.beta, 3), mmac=None if macs is None else round(macs, 1))
        finally:
            executor.close()
    if not mg_path.exists():  # iterations = 0: the initial meta-graph is the result
        mg.save(mg_path)
    return mg


def replay(out_dir: str | Path, every: int = 10) -> Iterator[tuple[int, MetaGraph]]:
    """Re-apply a search folder's updates from the initial meta-graph; yields (iteration, meta-graph) every ``every``.

    Algorithm 1 is deterministic given the candidates and their scores, so the
    weights at any iteration can be rebuilt from ``history.jsonl`` without
    storing them: for plotting how edges rose or fell. The meta-graph yielded
    is the same object each time (copy its ``weights`` to keep them).
    """
    out = Path(out_dir)
    settings = json.loads((out / "config.json").read_text())
    space, rule = SearchSpace.from_dict(settings["space"]), UpdateRule(**settings["rule"])
    config = SearchConfig.from_dict(settings["search"])
    mg = MetaGraph(space, rule, seed=config.seed)
    yield 0, mg
    for row in load_history(out):
        if row["accuracy"] is None or config.mode == "random":
            mg.skip()
        else:
            mg.update(Architecture.from_dict(row["arch"]), row["accuracy"], latency_ms=row["latency_ms"],
                      macs=row["macs"])
        if mg.iteration % every == 0:
            yield mg.iteration, mg
