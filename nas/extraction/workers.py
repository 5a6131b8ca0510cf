"""Local worker processes: more processes of the same search, sharing its study.

Why processes: training is compute-bound and each worker trains on one thread, so two workers
use both cores of a laptop. Each is an ordinary worker of the same study; it ends itself when
its parent is gone, so a killed search leaves no orphans training on unseen.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .config import SearchConfig


def _exit_with_parent(parent: int) -> None:
    """A local worker ends itself once its parent is gone (even after `kill -9` of the parent):
    orphaned workers would otherwise train on, unseen, until the queue is empty."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(3)


def _worker_main(
    target: Callable[[SearchConfig], None], config: dict[str, Any], parent: int
) -> None:
    import threading

    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    target(SearchConfig.from_dict(config))


@contextmanager
def local_workers(
    target: Callable[[SearchConfig], None], config: SearchConfig, count: int, notes: list[str]
) -> Iterator[None]:
    """Run `count` extra worker processes beside this one, each running `target(config)`.

    `target` is the search itself (`search.run_worker`), passed in so that this module need not
    import the pipeline that uses it.

    Why processes: training is compute-bound and each worker trains on one thread, so two
    workers use both cores of a laptop. They are ordinary workers of the same study (the same
    settings give the same study name), started after step 1 so they find the cheap proxies in
    the cache; Optuna hands each candidate to one of them. A worker that dies costs nothing (its
    candidate goes back to the queue); it is reported in `notes`, which `summary.json` records.
    """
    if count < 1:
        yield
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    payload = config.to_dict()
    parent = os.getpid()
    processes = [
        context.Process(target=_worker_main, args=(target, payload, parent)) for _ in range(count)
    ]
    for process in processes:
        process.start()
    try:
        yield
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        note = f"{len(failed)} local worker(s) exited with {failed}; this process finished the work"
        notes.append(note)
        warnings.warn(note, stacklevel=2)
