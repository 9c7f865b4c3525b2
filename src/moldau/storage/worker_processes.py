"""Worker processes for storage work that is Python code through and through (the cleaner's
rewriting): run there, it never holds the interpreter lock the event loop needs for every
request.

``WorkerProcesses`` is a ``concurrent.futures.Executor`` over a ``ProcessPoolExecutor`` whose
processes come from a fork server (a clean interpreter, started at the first job; forking the
broker itself would copy its sockets and threads). It adds what the broker needs around it:

* ``shutdown(cancel_futures=True)`` ends running jobs at once instead of waiting for them
  (the pool has no public way to do so before Python 3.14);
* a pool broken by a worker that died (killed, out of memory) is replaced at the next job;
* a worker whose broker is gone exits within a second: the pool's workers wait on a queue
  whose both ends they hold, so after a SIGKILL of the broker they would otherwise wait
  forever. Each worker watches the broker's pid (a pidfd where the platform has one, which
  also sees a broker that exited but was not reaped yet).
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 1.0


class WorkerProcesses(Executor):
    """See the module docstring; ``workers`` is how many jobs run at once."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._pool is not None:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False)
        self._pool = ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel_futures:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def watch_parent(pid: int) -> None:
    """In a worker: end this process once process ``pid`` has exited."""
    threading.Thread(target=_exit_after, args=(pid,), name="parent-watch", daemon=True).start()


def _exit_after(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfds here, or the parent is already gone
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])  # readable once the process has exited
        os._exit(0)
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        threading.Event().wait(_POLL_SECONDS)
