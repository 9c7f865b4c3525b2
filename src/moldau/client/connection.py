"""A small async Kafka client connection on the protocol layer.

For the platform's own traffic (tests, tools, later broker-to-broker): it sends the declared
request dataclasses and returns the decoded response dataclasses, pipelining requests on one
socket and matching responses by correlation id::

    async with await ClientConnection.open("127.0.0.1", 9092) as conn:
        versions = await conn.request(API_VERSIONS, ApiVersionsRequest(), version=3)
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from types import TracebackType
from typing import Any

from moldau.protocol import codegen
from moldau.protocol.frames import FrameReader, frame
from moldau.protocol.headers import RequestHeader, encode_request_header, parse_response_header
from moldau.protocol.primitives import Reader
from moldau.protocol.schema import Api

_MAX_RESPONSE = 256 * 1024 * 1024


class ClientConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client_id: str) -> None:
        self._reader = reader
        self._writer = writer
        self._client_id = client_id
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Api, int, asyncio.Future[Any]]] = {}
        self._frames = FrameReader(_MAX_RESPONSE)
        self._pump = asyncio.ensure_future(self._read_responses())

    @classmethod
    async def open(cls, host: str, port: int, client_id: str = "moldau-internal") -> ClientConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, client_id)

    async def request(self, api: Api, body: Any, version: int | None = None) -> Any:
        """Send ``body`` as ``api`` at ``version`` (default: the highest declared) and return
        the decoded response."""
        v = api.max_version if version is None else version
        cid = next(self._ids)
        header = RequestHeader(api.key, v, cid, self._client_id)
        payload = encode_request_header(header, api.request_header_version(v)) + codegen.encode(
            body, v, api.flexible(v)
        )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cid] = (api, v, future)
        self._writer.write(frame(payload))
        await self._writer.drain()
        return await future

    async def send_only(self, api: Api, body: Any, version: int) -> None:
        """Send a request that gets no response (Produce with acks=0)."""
        header = RequestHeader(api.key, version, next(self._ids), self._client_id)
        payload = encode_request_header(header, api.request_header_version(version))
        self._writer.write(frame(payload + codegen.encode(body, version, api.flexible(version))))
        await self._writer.drain()

    async def _read_responses(self) -> None:
        try:
            while data := await self._reader.read(65536):
                self._frames.feed(data)
                while (payload := self._frames.next_frame()) is not None:
                    self._dispatch(payload)
            error: BaseException = ConnectionError("connection closed by the broker")
        except Exception as e:
            error = e
        for _, _, future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    def _dispatch(self, payload: bytes) -> None:
        (cid,) = struct.unpack_from(">i", payload)
        api, v, future = self._pending.pop(cid)
        _, pos = parse_response_header(payload, api.response_header_version(v))
        body = codegen.decoder(api.response, v, api.flexible(v))(Reader(payload, pos))
        if not future.done():
            future.set_result(body)

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass
        self._pump.cancel()

    async def __aenter__(self) -> ClientConnection:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
