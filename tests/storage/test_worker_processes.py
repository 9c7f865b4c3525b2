"""``WorkerProcesses``: jobs run in other processes and answer with their results or
exceptions, shutdown ends running jobs, a dead worker is replaced, an idle one exits after
its timeout, and workers do not outlive a broker that was killed. Loading the broker does
not load multiprocessing (start-up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from moldau.storage.worker_processes import WorkerProcesses


def test_the_broker_loads_without_multiprocessing() -> None:
    code = "import sys, moldau.broker.server\nprint('multiprocessing' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


def test_jobs_run_in_another_process() -> None:
    workers = WorkerProcesses(1)
    try:
        assert workers.submit(os.getpid).result(timeout=60) != os.getpid()
    finally:
        workers.shutdown()


def test_results_exceptions_and_prints() -> None:
    workers = WorkerProcesses(2)
    try:
        with pytest.raises(ZeroDivisionError):
            workers.submit(divmod, 1, 0).result(timeout=60)
        assert workers.submit(print, "a job's print goes to stderr").result(timeout=60) is None
        futures = [workers.submit(pow, 2, i) for i in range(20)]  # more jobs than workers
        assert [f.result(timeout=60) for f in futures] == [2**i for i in range(20)]
        unpicklable = workers.submit(lambda: 1)  # a job that does not pickle fails alone
        assert "pickle" in str(unpicklable.exception(timeout=60))
        assert workers.submit(pow, 3, 3).result(timeout=60) == 27
    finally:
        workers.shutdown()


def test_a_worker_is_kept_for_the_next_job_and_exits_when_idle_too_long() -> None:
    workers = WorkerProcesses(1, idle_timeout=1.0)
    try:
        first = workers.submit(os.getpid).result(timeout=60)
        assert workers.submit(os.getpid).result(timeout=60) == first  # reused within the timeout
        deadline = time.monotonic() + 30
        while _alive(first):
            assert time.monotonic() < deadline, "the idle worker did not exit"
            time.sleep(0.1)
        second = workers.submit(os.getpid).result(timeout=60)  # a new worker takes the next job
        assert second != first and _alive(second)
    finally:
        workers.shutdown()


def test_shutdown_ends_running_jobs_and_a_dead_worker_is_replaced() -> None:
    workers = WorkerProcesses(1)
    assert workers.submit(pow, 2, 10).result(timeout=60) == 1024  # the worker is up
    slow = workers.submit(time.sleep, 60)
    time.sleep(0.3)
    started = time.monotonic()
    workers.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - started < 10
    assert slow.cancelled() or isinstance(slow.exception(timeout=10), BrokenProcessPool)
    workers = WorkerProcesses(1)
    dying = workers.submit(os._exit, 3)  # the worker dies: its job fails, the next gets a new one
    assert isinstance(dying.exception(timeout=60), BrokenProcessPool)
    assert workers.submit(pow, 3, 2).result(timeout=60) == 9
    workers.shutdown()


PARENT = """
import os, sys, time
from moldau.storage.worker_processes import WorkerProcesses
workers = WorkerProcesses(1)
print(workers.submit(os.getpid).result(timeout=60), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), "the worker outlived its parent"
    finally:
        parent.kill()
        parent.wait()
