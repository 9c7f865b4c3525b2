"""The server side of one Kafka connection, sans-IO.

Bytes go in with ``receive_data``, or are received straight into the codec's buffers with
``get_buffer`` / ``buffer_updated`` (``asyncio.BufferedProtocol``); ``next_request`` returns
decoded ``Request`` events in arrival order; ``respond_chunks`` turns a response body into the
chunks to write (``respond``: the same joined into one frame). Requests are answered in the
order they arrived: the codec remembers the correlation ids it handed out and refuses a
response out of turn, so the shell above cannot reorder a pipeline by mistake.

Errors say whose fault they are: ``RemoteProtocolError`` (the client sent something we must not
accept; close the connection) vs. an ``AssertionError``-class bug on our side.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from moldau.protocol import codegen
from moldau.protocol.frames import FrameError, FrameReader, ReceiveBuffers
from moldau.protocol.headers import RequestHeader, parse_request_header, peek_prefix
from moldau.protocol.primitives import DecodeError, Reader, Writer
from moldau.protocol.schema import Api
from moldau.util.datatype import datatype

API_VERSIONS_KEY = 18
_SIZE = struct.Struct(">i")
_SIZE_AND_CORRELATION = struct.Struct(">ii")
_PREFIX = struct.Struct(">hhi")


class RemoteProtocolError(Exception):
    """The peer violated the protocol; the connection must be closed."""


@datatype(slots=True)
class Request:
    header: RequestHeader
    api: Api
    body: Any
    size: int  # bytes of the whole frame
    unsupported_version: bool = False  # an ApiVersions request newer than we speak

    @property
    def version(self) -> int:
        return self.header.api_version

    @property
    def flexible(self) -> bool:
        return self.api.flexible(self.header.api_version)


@datatype(frozen=True, slots=True)
class _Plan:
    """One (API, version): its header versions and compiled body codecs."""

    api: Api
    header_version: int
    response_header_version: int
    decode: Callable[[Reader], Any]
    encode: Callable[[Writer, Any], None]

    @classmethod
    def of(cls, api: Api, version: int) -> _Plan:
        flexible = api.flexible(version)
        return cls(
            api,
            api.request_header_version(version),
            api.response_header_version(version),
            codegen.decoder(api.request, version, flexible),
            codegen.encoder(api.response, version, flexible),
        )


class ServerCodec:
    """Frames, headers and bodies of one server-side connection."""

    def __init__(
        self, apis: dict[int, Api], max_request_size: int, buffers: ReceiveBuffers | None = None
    ) -> None:
        """``buffers``: the receive buffers shared by the connections of one event loop
        (``FrameReader``)."""
        self._apis = apis
        self._plans: dict[tuple[int, int], _Plan] = {}
        self._frames = FrameReader(max_request_size, buffers)
        self._pending: deque[int] = deque()

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._frames.feed(data)
        except FrameError as e:
            raise RemoteProtocolError(str(e)) from None

    def get_buffer(self) -> memoryview:
        return self._frames.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            self._frames.buffer_updated(nbytes)
        except FrameError as e:
            raise RemoteProtocolError(str(e)) from None

    def next_request(self) -> Request | None:
        """The next request, decoded from a frame buffer of its own: the ``RECORDS`` fields
        of its body are writable views of that buffer, owned by the request."""
        try:
            payload = self._frames.next_frame_buffer()
        except FrameError as e:
            raise RemoteProtocolError(str(e)) from None
        if payload is None:
            return None
        req = self._decode(payload)
        self._pending.append(req.header.correlation_id)
        return req

    def _decode(self, frame: bytearray) -> Request:
        payload = memoryview(frame)
        if len(payload) < 8:
            raise RemoteProtocolError(f"request of {len(payload)} bytes is shorter than a header")
        api_key, version, _ = _PREFIX.unpack_from(payload, 0)
        plan = self._plans.get((api_key, version))
        if plan is None:
            plan = self._plan(api_key, version)
            if plan is None:  # KIP-511: parse what we can and answer with our versions in a v0 body
                api = self._apis[API_VERSIONS_KEY]
                return Request(_lenient_header(payload), api, None, len(payload), unsupported_version=True)
        try:
            header, pos = parse_request_header(payload, plan.header_version)
            # Bytes after the last field are ignored, as Kafka ignores them: librdkafka pads
            # some requests (an empty Metadata topic array takes 4 bytes instead of 1).
            body = plan.decode(Reader(payload, pos))
        except DecodeError as e:
            raise RemoteProtocolError(f"malformed {plan.api.name} v{version} request: {e}") from None
        return Request(header, plan.api, body, len(payload))

    def _plan(self, api_key: int, version: int) -> _Plan | None:
        """What decoding and answering (``api_key``, ``version``) takes, worked out once per
        connection; None for an ApiVersions request newer than we speak (KIP-511)."""
        api = self._apis.get(api_key)
        if api is None:
            raise RemoteProtocolError(f"unknown API key {api_key}")
        if not api.lowest_decodable <= version <= api.max_version:
            if api_key == API_VERSIONS_KEY and version > api.max_version:
                return None
            raise RemoteProtocolError(
                f"unsupported version {version} of {api.name} "
                f"(we serve {api.lowest_advertised}-{api.max_version})"
            )
        plan = self._plans[(api_key, version)] = _Plan.of(api, version)
        return plan

    def respond(self, request: Request, body: Any, version: int | None = None) -> bytearray:
        """Encode the response to ``request`` (the oldest unanswered one) as a whole frame."""
        return bytearray().join(self.respond_chunks(request, body, version))

    def respond_chunks(
        self, request: Request, body: Any, version: int | None = None
    ) -> list[bytes | bytearray | memoryview]:
        """The response to ``request`` (the oldest unanswered one) as a whole frame in
        chunks: large ``RECORDS`` values (fetched batches) are chunks of their own, not copied
        into a growing response buffer."""
        cid = request.header.correlation_id
        if not self._pending or self._pending[0] != cid:
            raise AssertionError(f"response to correlation id {cid} out of order")
        self._pending.popleft()
        api = request.api
        v = request.version if version is None else version
        plan = self._plans.get((api.key, v)) or _Plan.of(api, v)
        w = Writer()
        head = w.buf
        head += _SIZE_AND_CORRELATION.pack(0, cid)  # the size is filled in below
        if plan.response_header_version >= 1:
            head.append(0)  # no tagged fields
        plan.encode(w, body)
        chunks = w.chunks()
        _SIZE.pack_into(head, 0, w.size() - 4)
        return chunks

    def skip(self, request: Request) -> None:
        """Forget a request that gets no response (Produce with acks=0)."""
        if not self._pending or self._pending[0] != request.header.correlation_id:
            raise AssertionError("skip out of order")
        self._pending.popleft()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def buffered(self) -> int:
        return self._frames.buffered


def _lenient_header(payload: memoryview) -> RequestHeader:
    api_key, version, cid = peek_prefix(payload)
    client_id: str | None = None
    try:
        client_id = Reader(payload, 8).read_nullable_string()
    except DecodeError:
        pass
    return RequestHeader(api_key, version, cid, client_id)
