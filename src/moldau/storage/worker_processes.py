"""Worker processes for storage work that is Python code through and through (the cleaner's
rewriting): run there, it never holds the interpreter lock the event loop needs for every
request.

``WorkerProcesses`` is a ``concurrent.futures.Executor``. Each worker is a child interpreter
(running ``serve`` below), started at the first job that needs it and kept for the next ones,
until it has been idle for ``idle_timeout`` seconds (its memory, some 30 MB, goes back to the
system; the next job starts a new one); it runs one job at a time. A job is a picklable
function and its arguments; parent and worker exchange length-prefixed pickles over the
worker's stdin and stdout, and one parent thread per running job waits for the answer (in a
blocking read, which does not hold the interpreter lock). The worker's stdout is kept for the
answers only: what a job prints goes to stderr, as does its logging.

Lifetimes: a worker whose stdin reaches its end exits, so workers never outlive the broker,
however it ends. ``shutdown(cancel_futures=True)`` ends running jobs at once (their futures
fail with ``BrokenProcessPool``); a worker that dies fails its job the same way and is not
reused. The multiprocessing module is not used: its children import the parent's main module
again, which an embedding program may not allow.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import IO, Any, TypeVar

T = TypeVar("T")

_LENGTH = struct.Struct(">Q")


class WorkerProcesses(Executor):
    """See the module docstring; at most ``workers`` jobs run at once, the others wait."""

    def __init__(self, workers: int, idle_timeout: float | None = 60.0) -> None:
        self._max = workers
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._running = 0
        self._waiting: deque[_Job] = deque()
        self._threads: set[threading.Thread] = set()
        self._shut = False
        self._killing = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot submit after shutdown")
            self._waiting.append((future, fn, args, kwargs))
            self._start_waiting()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut = True
            if cancel_futures:
                self._killing = True
                while self._waiting:
                    self._waiting.popleft()[0].cancel()
                for worker in self._busy:
                    worker.kill()
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for worker in idle:
            worker.close()
        if wait:
            for thread in threads:
                thread.join()

    def _start_waiting(self) -> None:
        """Under the lock: hand waiting jobs to idle workers, or to new ones up to the limit."""
        while self._waiting and self._running < self._max:
            job = self._waiting.popleft()
            if not job[0].set_running_or_notify_cancel():
                continue
            self._running += 1
            worker = self._idle.pop() if self._idle else None
            if worker is not None:
                worker.stop_idle_timer()
                self._busy.add(worker)
            thread = threading.Thread(
                target=self._run, args=(worker, job), name="worker-process", daemon=True
            )
            self._threads.add(thread)
            thread.start()

    def _run(self, worker: _Worker | None, job: _Job) -> None:
        future, fn, args, kwargs = job
        try:
            if worker is None:
                worker = _Worker()
                with self._lock:
                    self._busy.add(worker)
                    if self._killing:
                        worker.kill()
            ok, value = worker.call(fn, args, kwargs)
        except BaseException as e:  # the worker ended, could not start, or the job does not pickle
            ok, value = False, e
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
        with self._lock:
            self._threads.discard(threading.current_thread())
            self._running -= 1
            keep = False
            if worker is not None:
                self._busy.discard(worker)
                keep = worker.alive and not self._shut
                if keep:
                    self._idle.append(worker)
                    if self._idle_timeout is not None:
                        worker.start_idle_timer(self._idle_timeout, self._expire)
            self._start_waiting()
        if worker is not None and not keep:
            worker.close()

    def _expire(self, worker: _Worker) -> None:
        """The idle timer of ``worker`` ran out: close it unless a job took it meanwhile."""
        with self._lock:
            if worker not in self._idle:
                return
            self._idle.remove(worker)
        worker.close()


_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class _Worker:
    """One child interpreter and the pipes to it."""

    def __init__(self) -> None:
        # The worker imports what the parent does: its path is the parent's.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._to: IO[bytes] = self.process.stdin
        self._from: IO[bytes] = self.process.stdout
        self.alive = True
        self._idle_timer: threading.Timer | None = None

    def start_idle_timer(self, seconds: float, expire: Callable[[_Worker], None]) -> None:
        self._idle_timer = threading.Timer(seconds, expire, (self,))
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """Run ``fn(*args, **kwargs)`` in the worker: ``(True, result)`` or ``(False, exception)``."""
        payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _send_bytes(self._to, payload)
            answer = _receive(self._from)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            self.alive = False
            code = self.process.poll()
            # Imported here: it brings in multiprocessing, which start-up does not need.
            from concurrent.futures.process import BrokenProcessPool

            raise BrokenProcessPool(f"the worker process ended (exit code {code}): {e}") from None
        return answer

    def kill(self) -> None:
        self.alive = False
        self.process.kill()

    def close(self) -> None:
        self.alive = False
        self.stop_idle_timer()
        try:
            self._to.close()
        except OSError:
            pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._from.close()


def _send_bytes(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("no answer")
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("answer cut short")
    return pickle.loads(payload)


def serve() -> None:
    """The worker's side: run jobs until stdin ends."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a job's prints go to stderr, not into the answers
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    while True:
        try:
            fn, args, kwargs = _receive(requests)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except BaseException as e:
            answer = (False, e)
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # the result or the exception does not pickle
            payload = pickle.dumps((False, RuntimeError(f"{answer[1]!r} (could not be pickled: {e})")))
        _send_bytes(answers, payload)
