"""An in-process broker for tests: ``with Broker() as b: ... b.bootstrap_servers``.

The broker runs on its own event loop in a daemon thread, bound to a free loopback port, over
a temporary data directory that is removed when it stops (unless you passed your own). It is
the same server ``moldau serve`` runs; start-up takes milliseconds.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Mapping
from types import TracebackType

from moldau.config.broker import BrokerConfig

_START_TIMEOUT_S = 30.0


class Broker:
    def __init__(
        self,
        data_dir: str | None = None,
        *,
        port: int = 0,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="moldau-")
        self._settings = {
            "log.dirs": self.data_dir,
            "listeners": f"PLAINTEXT://127.0.0.1:{port}",
            **dict(overrides or {}),
        }
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        config = BrokerConfig.load(None, self._settings)
        self._thread = threading.Thread(target=self._run, args=(config,), name="moldau-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"the in-process broker did not start within {_START_TIMEOUT_S:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"the in-process broker failed to start: {self._error}") from self._error
        return self

    def _run(self, config: BrokerConfig) -> None:
        from moldau.broker.server import Server

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server = Server(config)
            try:
                await server.start()
            except BaseException as e:
                self._error = e
                self._ready.set()
                return
            self.port = server.bound[0].port
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await server.stop()

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(_START_TIMEOUT_S)
        self._thread = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
