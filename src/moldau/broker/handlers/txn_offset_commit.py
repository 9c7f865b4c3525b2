"""TxnOffsetCommit (28), v0-5: offsets committed inside a transaction, visible once the
transaction commits (the COMMIT marker in ``__consumer_offsets`` settles them)."""

from __future__ import annotations

from typing import Any

from moldau.broker.context import RequestContext
from moldau.broker.handlers.offset_commit import commit_known
from moldau.protocol.errors import ErrorCode
from moldau.protocol.messages.txn_offset_commit import (
    TXN_OFFSET_COMMIT,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponsePartition,
    TxnOffsetCommitResponseTopic,
)

API = TXN_OFFSET_COMMIT


def _unknown(name: str, partitions: list[int]) -> TxnOffsetCommitResponseTopic:
    return TxnOffsetCommitResponseTopic(
        name=name,
        partitions=[
            TxnOffsetCommitResponsePartition(
                partition_index=p, error_code=ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            )
            for p in partitions
        ],
    )


def handle(ctx: RequestContext, req: TxnOffsetCommitRequest) -> Any:
    return commit_known(ctx, req, "txn_offset_commit", _unknown)
