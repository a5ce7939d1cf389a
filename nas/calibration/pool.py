"""Training evaluations of a calibration in parallel worker processes (``nas calibrate --workers N``).

One training evaluation is a whole short training run (minutes per architecture for the ``small``
preset on a CPU), so a calibration parallelises over candidates, not inside them: each worker is a
spawned process with its own ``torch.set_num_threads(threads)`` that loads the data set once and
then trains candidates one after another. Each result is its own process's CPU time, so CPU-seconds
per candidate mean the same with one worker or eight, and training is deterministic per (genotype,
preset, seed): the scores do not depend on which worker ran them.

Genotypes travel to the workers as their JSON. Workers ignore SIGINT; the parent's Ctrl-C
terminates them (the journal keeps every finished result), and on Linux a worker also ends when its
parent is killed outright.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from nas.calibration.evaluators import rung_evaluator, training_evaluator
from nas.core.compile import validate
from nas.core.genotype import from_json

_evaluate: Any = None  # the worker process's evaluator, built once by _init


def _init(
    parent: int,
    rungs: bool,
    data: str | Path | None,
    dataset: str,
    device: str | None,
    threads: int,
    warm: str,
) -> None:
    global _evaluate
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    torch.set_num_threads(threads)
    make = rung_evaluator if rungs else training_evaluator
    _evaluate = make(data, dataset=dataset, device=device)
    # untimed: the first shape check imports torch's symbolic-shape stack (about 1.5 CPU-s), a cost of
    # the process, not of the worker's first candidate
    validate(from_json(warm))


def _die_with_parent(parent: int) -> None:
    """On Linux, SIGTERM this worker when the parent dies (even by SIGKILL), so that a killed
    calibration leaves no trainings running."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died while this process was starting: no signal will come
        os._exit(1)


def _run(task: tuple[int, str, str, int, list[int] | None]) -> tuple[int, Any]:
    index, genotype_json, spec, seed, schedule = task
    g = from_json(genotype_json)
    result = _evaluate(g, spec, seed) if schedule is None else _evaluate(g, spec, seed, schedule)
    return index, result


def evaluate_parallel(
    tasks: Sequence[tuple[Any, str, int, list[int] | None]],
    *,
    workers: int,
    threads: int,
    data: str | Path | None,
    dataset: str = "cifar10",
    device: str | None = None,
) -> Iterator[tuple[int, Any]]:
    """Train ``tasks`` — ``(genotype, preset spec, seed, rung schedule or None)`` — on ``workers``
    processes; yields ``(task index, result)`` as each finishes (in completion order). A result is
    what :func:`nas.calibration.evaluators.training_evaluator` (schedule ``None``) or
    :func:`nas.calibration.evaluators.rung_evaluator` returns. All tasks must agree on having a schedule."""
    if not tasks:
        return
    kinds = {schedule is None for _, _, _, schedule in tasks}
    if len(kinds) != 1:
        raise ValueError("evaluate_parallel: tasks mix plain and per-rung training")
    rungs = not kinds.pop()
    payload = [(i, g.to_json(), spec, seed, sch) for i, (g, spec, seed, sch) in enumerate(tasks)]
    pool = ProcessPoolExecutor(
        min(workers, len(tasks)),
        mp_context=mp.get_context("spawn"),  # fork would copy torch's thread pools mid-flight
        initializer=_init,
        initargs=(os.getpid(), rungs, data, dataset, device, threads, payload[0][1]),
    )
    finished = False
    try:
        futures = [pool.submit(_run, p) for p in payload]
        for f in as_completed(futures):
            yield f.result()
        finished = True
    except BrokenProcessPool:
        raise RuntimeError(
            "a calibration worker process died: killed, out of memory, or started by a script "
            "without an `if __name__ == '__main__':` guard"
        ) from None
    finally:
        if not finished:  # an error or Ctrl-C: stop the trainings still running
            _terminate(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    if hasattr(pool, "terminate_workers"):  # Python 3.14+
        pool.terminate_workers()
        return
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        p.terminate()
