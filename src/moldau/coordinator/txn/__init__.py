"""The transaction coordinator: transactional ids, their producers and transactions, sans-IO.

State lives in the compacted ``__transaction_state`` topic and is rebuilt by replaying it;
operations return the records to append, the replies to send and the transaction markers to
write. See :mod:`.coordinator` for the facade, :mod:`.results` for the contract with the
runtime, :mod:`.state` for the state machine, :mod:`.metadata` for the transitions and
:mod:`.records` for the record formats.
"""

from moldau.coordinator.txn.config import TxnConfig
from moldau.coordinator.txn.coordinator import TxnCoordinator
from moldau.coordinator.txn.metadata import TxnMetadata
from moldau.coordinator.txn.results import MarkerRequest, TxnResult
from moldau.coordinator.txn.state import TransactionState

TRANSACTION_STATE_TOPIC = "__transaction_state"

__all__ = [
    "TRANSACTION_STATE_TOPIC",
    "MarkerRequest",
    "TransactionState",
    "TxnConfig",
    "TxnCoordinator",
    "TxnMetadata",
    "TxnResult",
]
