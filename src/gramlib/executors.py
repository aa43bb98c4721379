"""Where candidates are scored: in this process, or as Ray tasks on this machine or a cluster.

An executor runs ``fn(*args)`` for each submitted candidate and hands back
results one at a time. The search (:func:`gramlib.search.search`) keeps
``workers`` candidates in flight and applies each result as it is handed back;
it never asks where a candidate ran.

* ``local`` — in-process, one at a time: a result is computed when it is asked
  for, so ``workers = k`` simulates k workers exactly (each candidate is sampled
  from a meta-graph k − 1 updates older than the one its result updates), at
  one worker's speed. ``workers = 1`` is the sequential Algorithm 1.
* ``ray`` — each candidate is a Ray task with a resource request
  (``cpus_per_candidate`` CPU threads, ``gpus_per_candidate`` GPUs). Ray starts
  locally unless ``address`` (or the ``RAY_ADDRESS`` environment variable)
  names a running cluster, e.g. ``"auto"``. Needs the ``distributed`` extra:
  ``pip install -e '.[distributed]'``.

Whole runs, not candidates, go side by side with :func:`run_side_by_side`: independent searches (the
GRAM search and its random twin, the evidence study's six), each in its own process and each computing exactly
what it computes alone.

``ordered`` hands results back in key order: the search's keys are candidate
indices, so that is sampling order, a re-submitted candidate keeping its place,
and the search is reproducible whatever the timing (the same seed gives the
same meta-graph on any executor). Unordered hands back whichever finishes
first: no worker waits behind a slow candidate, but the order of updates
depends on timing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

EXECUTORS = ("local", "ray")


class ExecutorError(RuntimeError):
    """An executor cannot be made (e.g. Ray is not installed)."""


@dataclass
class Job:
    """One submitted call: its handle in the executor and what it computes."""

    key: Any
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    handle: Any = None


class LocalExecutor:
    """Runs each job in this process when its result is asked for, lowest key first (ordered or not: one
    process finishes jobs in the order it runs them)."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []

    def put(self, value: Any) -> Any:
        """Large shared arguments (the proxy set): passed as they are."""
        return value

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any) -> None:
        self._jobs.append(Job(key, fn, args))

    def next_result(self, ordered: bool = True) -> tuple[Any, Any, BaseException | None]:
        """(key, result, None) or (key, None, exception) of the next job."""
        job = _lowest_key(self._jobs)
        try:
            return job.key, job.fn(*job.args), None
        except Exception as e:  # a candidate that raises is the search's to retry or record, not a crash
            return job.key, None, e

    def close(self) -> None:
        self._jobs.clear()


class RayExecutor:
    """Each job is a Ray task asking for ``cpus`` CPUs and ``gpus`` GPUs.

    Args:
        address: a running cluster ("auto", "ray://host:10001", ...); None starts a local Ray
            (or joins the one ``RAY_ADDRESS`` names).
        cpus, gpus: the resource request of one candidate; a candidate's torch uses ``cpus`` threads.
        num_cpus: for a local Ray only, the CPUs it may use (None: all of this machine's).
    """

    def __init__(self, address: str | None = None, cpus: float = 1, gpus: float = 0,
                 num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as e:
            raise ExecutorError("executor 'ray' needs Ray: pip install -e '.[distributed]' "
                                "(or executor: local)") from e
        if cpus <= 0 or gpus < 0:
            raise ExecutorError(f"a candidate needs cpus > 0 and gpus >= 0, got cpus={cpus}, gpus={gpus}")
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            kwargs: dict[str, Any] = {"address": address, "ignore_reinit_error": True, "log_to_driver": False,
                                      "include_dashboard": False}
            if address is None and num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)
            self._started = True
        self.cpus, self.gpus = cpus, gpus
        self._remote = ray.remote(_call_with_threads).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        self._jobs: list[Job] = []

    def put(self, value: Any) -> Any:
        """Large shared arguments go to the object store once, not with every task."""
        return self._ray.put(value)

    def submit(self, key: Any, fn: Callable[..., Any], *args: Any) -> None:
        threads = max(1, int(self.cpus))
        self._jobs.append(Job(key, fn, args, self._remote.remote(threads, fn, *args)))

    def next_result(self, ordered: bool = True) -> tuple[Any, Any, BaseException | None]:
        if ordered:  # candidates are applied in sampling order, whatever finishes first
            job = _lowest_key(self._jobs)
        else:
            ready, _ = self._ray.wait([j.handle for j in self._jobs], num_returns=1)
            job = next(j for j in self._jobs if j.handle == ready[0])
            self._jobs.remove(job)
        try:
            return job.key, self._ray.get(job.handle), None
        except Exception as e:  # the task raised, or its worker died (RayTaskError, WorkerCrashedError, ...)
            return job.key, None, e

    def close(self) -> None:
        for j in self._jobs:
            try:
                self._ray.cancel(j.handle, force=True)
            except Exception:  # already finished or gone
                pass
        self._jobs.clear()
        if self._started:
            self._ray.shutdown()


def _lowest_key(jobs: list[Job]) -> Job:
    """Remove and return the job with the lowest key (ordered results: a re-submitted candidate keeps its place)."""
    job = min(jobs, key=lambda j: j.key)
    jobs.remove(job)
    return job


def _call_with_threads(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a Ray worker with torch limited to the task's CPU request."""
    import torch

    torch.set_num_threads(threads)
    return fn(*args)


def make_executor(kind: str, *, address: str | None = None, cpus: float = 1, gpus: float = 0,
                  num_cpus: int | None = None) -> LocalExecutor | RayExecutor:
    """``"local"`` or ``"ray"`` (see the module docstring)."""
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address, cpus=cpus, gpus=gpus, num_cpus=num_cpus)
    raise ExecutorError(f"executor must be one of {EXECUTORS}, got {kind!r}")


def run_side_by_side(calls: list[Callable[[], Any]], processes: int = 1) -> list[Any]:
    """Run independent calls (e.g. whole searches) ``processes`` at a time, each in a fresh process; results in
    the order of ``calls``.

    This is parallelism *between* runs, not within one: each call computes exactly what it computes alone (a
    search keeps its own ``threads``), so nothing about the algorithm changes, unlike ``workers > 1``. On 2 cores
    two 1-thread searches side by side did 1.54x the candidates per second of one 2-thread search after the other
    (README, "make full: stage costs"): these small models use a second thread poorly.

    ``processes = 1`` (or a single call) runs them here, one after another. Calls must be picklable (a function
    of gramlib with its arguments, e.g. :func:`functools.partial`): processes are spawned, not forked, because
    forking a process whose torch has started its thread pools can hang. An exception in one call is raised here
    once the calls already running have ended, and the calls not yet started are dropped (an interrupt too);
    what a search checkpointed is kept, so a rerun resumes it. A child process ends with its parent (Linux), so a
    killed kernel leaves no search writing its folder behind a rerun.

    Side by side, each call slows the other a little: fine for searches whose reward counts MACs (the cpu
    profile's; latency is only recorded), not for ones that reward measured latency, nor for the Ray executor
    (each process would start its own Ray).
    """
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        raise ValueError(f"processes must be an integer >= 1, got {processes!r}")
    if processes == 1 or len(calls) <= 1:
        return [call() for call in calls]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=min(processes, len(calls)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_end_with_parent)
    futures = [pool.submit(call) for call in calls]
    try:
        return [f.result() for f in futures]
    finally:  # after an error or an interrupt: drop what has not started, wait for what runs (it checkpoints)
        pool.shutdown(wait=True, cancel_futures=True)


def _end_with_parent() -> None:
    """In a spawned worker: ask Linux to end this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    import signal
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except OSError:  # another libc: the worker then outlives a killed parent, as elsewhere
            pass
