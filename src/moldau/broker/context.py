"""What a handler receives besides the request body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moldau.protocol.headers import RequestHeader
from moldau.util.datatype import datatype

if TYPE_CHECKING:
    from moldau.broker.core import Broker

ANONYMOUS = "User:ANONYMOUS"


@datatype(slots=True)
class RequestContext:
    broker: Broker
    header: RequestHeader
    client_host: str
    listener: str = "PLAINTEXT"
    principal: str = ANONYMOUS

    @property
    def version(self) -> int:
        return self.header.api_version

    @property
    def client_id(self) -> str | None:
        return self.header.client_id
