"""Listeners, connections and the broker's lifecycle.

Start: open the data directories (recovering logs if needed), bind every listener, serve.
Stop (SIGTERM/SIGINT or ``stop()``), in this order: stop accepting; let connections that are in
the middle of a request finish it (bounded wait); close every connection; flush the logs and
write the checkpoints and the clean-shutdown marker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from moldau.broker.connection import KafkaConnection
from moldau.broker.core import Broker
from moldau.broker.router import Router, default_handler_modules
from moldau.config.broker import BrokerConfig
from moldau.protocol.frames import ReceiveBuffers
from moldau.util.datatype import datatype

log = logging.getLogger(__name__)

_SHUTDOWN_GRACE_S = 5.0


@datatype(frozen=True, slots=True)
class Listener:
    name: str
    host: str
    port: int

    @classmethod
    def parse(cls, spec: str) -> Listener:
        """``NAME://host:port``; an empty host binds every interface."""
        name, sep, rest = spec.partition("://")
        host, colon, port = rest.rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ValueError(f"invalid listener {spec!r}: expected NAME://host:port")
        return cls(name.upper(), host.strip("[]"), int(port))


class Server:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.router = Router(default_handler_modules())
        self.broker = Broker(config, self.router.apis)
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[KafkaConnection] = set()
        self._stopped = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self.bound: list[Listener] = []
        # The connections' receive buffers: one shared by all, and a pool for those holding
        # a partial frame (protocol/frames.py), so idle connections hold none.
        self.receive_buffers = ReceiveBuffers()

    # -- connections -------------------------------------------------------------------------

    def register(self, conn: KafkaConnection) -> bool:
        if len(self._connections) >= self.config.get("max.connections"):
            return False
        self._connections.add(conn)
        return True

    def unregister(self, conn: KafkaConnection) -> None:
        self._connections.discard(conn)

    async def _sweep_idle(self) -> None:
        idle_s = self.config.get("connections.max.idle.ms") / 1000.0
        while True:
            await asyncio.sleep(min(idle_s / 4, 10.0))
            now = self.loop.time()
            for conn in list(self._connections):
                if not conn.busy and now - conn.last_active > idle_s:
                    log.info("closing idle connection from %s", conn.peer)
                    conn.close()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        started = time.monotonic()
        self.broker.start()
        listeners = [Listener.parse(s) for s in self.config.listeners]
        for lst in listeners:
            srv = await self.loop.create_server(
                lambda name=lst.name: KafkaConnection(self, name),
                host=lst.host or None,
                port=lst.port,
                reuse_address=True,
                backlog=1024,
            )
            self._servers.append(srv)
            port = srv.sockets[0].getsockname()[1]
            self.bound.append(Listener(lst.name, lst.host, port))
        self.broker.set_endpoints(self.bound)
        self._sweeper = self.loop.create_task(self._sweep_idle())
        self._maintenance = self.loop.create_task(self.broker.maintain())
        log.info(
            "Moldau broker %d serving %s in %.0f ms (data in %s; event loop: %s)",
            self.broker.node_id,
            ", ".join(f"{lst.name}://{lst.host}:{lst.port}" for lst in self.bound),
            (time.monotonic() - started) * 1000,
            ", ".join(self.broker.log_dirs),
            "uvloop" if type(self.loop).__module__.startswith("uvloop") else "asyncio",
        )

    async def serve_forever(self) -> None:
        await self._stopped.wait()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        log.info("shutting down")
        for srv in self._servers:
            srv.close()
        for task in (self._sweeper, self._maintenance):
            if task is not None:
                task.cancel()
        deadline = self.loop.time() + _SHUTDOWN_GRACE_S
        self.broker.wake_all_waiters()
        while any(c.busy for c in self._connections) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn.close()
        for srv in self._servers:
            await srv.wait_closed()
        self.broker.shutdown()
        log.info("shut down cleanly")


async def run(config: BrokerConfig) -> None:
    server = Server(config)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, server.request_stop)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await server.serve_forever()
    finally:
        await server.stop()


def main(config: BrokerConfig, event_loop: str = "auto") -> None:
    """Run a broker until SIGTERM/SIGINT. ``event_loop``: "uvloop", "asyncio", or "auto" (uvloop
    when it is installed). ImportError when uvloop is asked for and missing."""
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                raise
        else:
            uvloop.run(run(config))
            return
    asyncio.run(run(config))
