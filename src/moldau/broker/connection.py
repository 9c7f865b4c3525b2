"""One client connection: an ``asyncio.BufferedProtocol`` around the sans-IO ``ServerCodec``.

The transport receives straight into the codec's frame buffers (``get_buffer`` /
``buffer_updated``), so a request's bytes are copied at most once before its handler sees them.
Requests are handled in arrival order. A handler that answers at once is answered inline; the
responses to everything one read brought are written together, in one ``write``, once the
read has been handled (or earlier, past ``_FLUSH_BYTES``). A handler that must wait (a
long-polling Fetch) parks the connection: later requests stay buffered in the codec until it
completes, which keeps responses in order exactly as Kafka's muted channels do.
Backpressure: when the transport's write buffer is full we stop handling requests, and when
too many bytes are buffered unread we stop reading the socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from moldau.broker.context import RequestContext
from moldau.broker.router import NO_RESPONSE
from moldau.protocol.connection import RemoteProtocolError, Request, ServerCodec

if TYPE_CHECKING:
    from moldau.broker.server import Server

log = logging.getLogger(__name__)

_READ_PAUSE_BYTES = 4 * 1024 * 1024
_FLUSH_BYTES = 256 * 1024  # write earlier than the end of a read once this much is waiting


Chunk = bytes | bytearray | memoryview


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, server: Server, listener: str) -> None:
        self._server = server
        self._listener = listener
        self._codec = ServerCodec(
            server.router.apis, server.broker.config.get("socket.request.max.bytes"), server.receive_buffers
        )
        self._transport: asyncio.Transport | None = None
        self._peer = "?"
        self._host = "?"
        self._busy = False
        self._write_paused = False
        self._read_paused = False
        self._closed = False
        self._out: list[Chunk] = []  # responses not yet handed to the transport
        self._out_bytes = 0
        self.last_active = server.loop.time()
        self.task: asyncio.Task[None] | None = None

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's class is not a subclass
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._host = str(peer[0]) if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if not self._server.register(self):
            log.warning("refusing connection from %s: max.connections reached", self._peer)
            self._closed = True
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.unregister(self)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._codec.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.last_active = self._server.loop.time()
        try:
            self._codec.buffer_updated(nbytes)
        except RemoteProtocolError as e:
            self._protocol_error(e)
            return
        self._process()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._process()

    # -- request handling ------------------------------------------------------------------

    def _process(self) -> None:
        try:
            self._handle_requests()
        finally:
            self._flush()

    def _handle_requests(self) -> None:
        codec, server = self._codec, self._server
        broker, dispatch = server.broker, server.router.dispatch
        while not (self._busy or self._write_paused or self._closed):
            try:
                req = codec.next_request()
            except RemoteProtocolError as e:
                self._protocol_error(e)
                return
            if req is None:
                break
            ctx = RequestContext(broker, req.header, self._host, self._listener)
            try:
                result = dispatch(ctx, req)
            except Exception:
                log.exception(
                    "%s v%d from %s failed; closing the connection", req.api.name, req.version, self._peer
                )
                self.close()
                return
            if result is NO_RESPONSE:
                codec.skip(req)
            elif isinstance(result, Awaitable):
                self._busy = True
                self.task = self._server.loop.create_task(self._finish(req, result))
                return
            else:
                self._send(req, result)
        self._update_read_pause()

    async def _finish(self, req: Request, pending: Any) -> None:
        try:
            result = await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "%s v%d from %s failed; closing the connection", req.api.name, req.version, self._peer
            )
            self.close()
            return
        self._busy = False
        if self._closed:
            return
        if result is NO_RESPONSE:
            self._codec.skip(req)
        else:
            self._send(req, result)
        self._process()

    def _send(self, req: Request, body: Any) -> None:
        chunks = self._codec.respond_chunks(req, body, 0 if req.unsupported_version else None)
        self._out += chunks
        self._out_bytes += sum(map(len, chunks))
        self.last_active = self._server.loop.time()
        if self._out_bytes >= _FLUSH_BYTES:
            self._flush()  # may pause writing, which stops the request loop

    def _flush(self) -> None:
        """Hand the waiting responses to the transport in one call."""
        if not self._out:
            return
        out, self._out, self._out_bytes = self._out, [], 0
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # writelines hands the fetched chunks over without joining them: uvloop sends them with
        # one writev and copies only what the socket does not take at once.
        if len(out) == 1:
            transport.write(out[0])
        else:
            transport.writelines(out)

    def _update_read_pause(self) -> None:
        if self._transport is None or self._closed:
            return
        buffered = self._codec.buffered
        if not self._read_paused and buffered > _READ_PAUSE_BYTES:
            self._read_paused = True
            self._transport.pause_reading()
        elif self._read_paused and buffered <= _READ_PAUSE_BYTES // 2:
            self._read_paused = False
            self._transport.resume_reading()

    def _protocol_error(self, e: Exception) -> None:
        log.warning("closing connection from %s: %s", self._peer, e)
        self._flush()
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def peer(self) -> str:
        return self._peer

    def close(self) -> None:
        self._flush()
        self._closed = True
        if self._transport is not None:
            self._transport.close()
