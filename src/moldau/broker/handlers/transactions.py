"""Transaction APIs that the transaction coordinator answers without broker-side work:

- AddPartitionsToTxn (24), v0-5: a producer adds partitions to its transaction (v0-3); from
  v4 brokers batch several transactions and may only verify (KIP-890).
- AddOffsetsToTxn (25), v0-4: adds the group's ``__consumer_offsets`` partition.
- EndTxn (26), v0-5: commit or abort; markers follow.
- DescribeTransactions (65), v0 and ListTransactions (66), v0-1: for admin tools.

InitProducerId, TxnOffsetCommit and WriteTxnMarkers have modules of their own.
"""

from __future__ import annotations

from moldau.broker.handlers.coordinated import CoordinatorHandler
from moldau.protocol.messages.add_offsets_to_txn import ADD_OFFSETS_TO_TXN
from moldau.protocol.messages.add_partitions_to_txn import ADD_PARTITIONS_TO_TXN
from moldau.protocol.messages.describe_transactions import DESCRIBE_TRANSACTIONS
from moldau.protocol.messages.end_txn import END_TXN
from moldau.protocol.messages.list_transactions import LIST_TRANSACTIONS

HANDLERS = [
    CoordinatorHandler(ADD_PARTITIONS_TO_TXN, "txns", "add_partitions_to_txn"),
    CoordinatorHandler(ADD_OFFSETS_TO_TXN, "txns", "add_offsets_to_txn"),
    CoordinatorHandler(END_TXN, "txns", "end_txn"),
    CoordinatorHandler(DESCRIBE_TRANSACTIONS, "txns", "describe_transactions"),
    CoordinatorHandler(LIST_TRANSACTIONS, "txns", "list_transactions"),
]
