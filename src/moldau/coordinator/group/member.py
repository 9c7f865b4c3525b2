"""A member of a classic group, and what the coordinator reads out of its metadata.

A :class:`Member` is immutable: a change (new protocols on rejoin, an assignment, a new member
id for a static member) makes a new one. The metadata a member sends per protocol is opaque to
the coordinator, which stores and forwards it byte for byte; that is what lets every assignor,
the incremental cooperative ones included, work unchanged. The single exception is the
``consumer`` protocol type, whose subscription the coordinator parses just far enough to learn
the subscribed topics (OffsetDelete refuses to delete offsets of a subscribed topic, and
retention keeps them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Set

from moldau.protocol.primitives import DecodeError, Reader
from moldau.util.datatype import datatype

CONSUMER_PROTOCOL_TYPE = "consumer"

Protocols = tuple[tuple[str, bytes], ...]  # (name, metadata) in the member's order of preference


@datatype(frozen=True, slots=True)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: Protocols
    assignment: bytes = b""

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    def protocol_names(self) -> set[str]:
        return {name for name, _ in self.protocols}

    def metadata(self, protocol: str) -> bytes:
        """The metadata this member sent for ``protocol`` (empty when it does not support it)."""
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        return b""

    def matches(self, protocols: Protocols) -> bool:
        """Whether a rejoin brings exactly the protocols (names, metadata, order) it had."""
        return protocols == self.protocols

    def vote(self, candidates: Set[str]) -> str:
        """The first protocol in this member's preference order that is among ``candidates``."""
        for name, _ in self.protocols:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {sorted(candidates)}")

    def with_changes(self, **changes: object) -> Member:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def as_protocols(pairs: Iterable[tuple[str, bytes]]) -> Protocols:
    return tuple((name, bytes(metadata)) for name, metadata in pairs)


def subscribed_topics(metadata: bytes) -> set[str] | None:
    """The topics of a ``consumer`` protocol subscription, or None when it cannot be read.

    Only the version-0 prefix that every version of ConsumerProtocolSubscription shares is
    read: INT16 version, ARRAY of STRING topics, NULLABLE_BYTES user data. Later fields (owned
    partitions, generation, rack) are ignored, as Kafka does.
    """
    try:
        r = Reader(metadata)
        if r.read_int16() < 0:
            return None
        count = r.read_array_len()
        if count < 0:
            return None
        topics = {r.read_string() for _ in range(count)}
        r.read_nullable_bytes()
    except DecodeError:
        return None
    return topics
