"""The states of a transaction and the table of legal moves between them.

Theory of operation
-------------------

Every transactional id has one record in ``__transaction_state``: its producer id and epoch,
its timeout, the state of its current transaction and the partitions taking part in it. A
transaction goes through these states::

             AddPartitionsToTxn,          EndTxn(commit)              markers written
      EMPTY ───────────────────▶ ONGOING ────────────────▶ PREPARE_COMMIT ──────────────▶ COMPLETE_COMMIT
             AddOffsetsToTxn     │  │     EndTxn(abort)                   markers written
                                 │  └─────────────────────▶ PREPARE_ABORT ───────────────▶ COMPLETE_ABORT
                                 │                              ▲
                                 │ a new producer, or timeout   │
                                 └──────▶ PREPARE_EPOCH_FENCE ──┘

Besides the moves drawn: ONGOING -> ONGOING (more partitions); EMPTY -> EMPTY and
COMPLETE_* -> EMPTY (InitProducerId: an epoch bump or a new producer id); COMPLETE_* ->
ONGOING (the next transaction); EMPTY and COMPLETE_* -> PREPARE_ABORT (an abort with nothing
added, which transactions v2 allows); and EMPTY, COMPLETE_* -> DEAD (the id was idle past
``transactional.id.expiration.ms``).

PREPARE_EPOCH_FENCE is the step an ongoing transaction passes through when a new producer
with the same transactional id (or the timeout) fences the current one: the epoch is bumped
and the transaction goes on to PREPARE_ABORT in the same write, so the state itself never
reaches the log. DEAD is never written either: expiry writes a tombstone.

The table is Kafka's (``TransactionState``): for each target state, the states a transaction
may come *from*. Every transition goes through :func:`check_transition`; a move the table
does not list is a lookup failure, turned into an error with a wire code
(UNKNOWN_SERVER_ERROR, what Kafka answers for its ``IllegalStateException``), so the request
that provoked it fails and nothing is written.
"""

from __future__ import annotations

import enum

from moldau.protocol.errors import ErrorCode, KafkaError


class TransactionState(enum.Enum):
    """A transaction's state; the value is Kafka's display name (DescribeTransactions,
    ListTransactions and their filters)."""

    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    DEAD = "Dead"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"

    @property
    def display_name(self) -> str:
        return self.value

    @property
    def id(self) -> int:
        """The ``TransactionStatus`` byte of the state's TransactionLogValue."""
        return _IDS[self]

    @classmethod
    def from_id(cls, state_id: int) -> TransactionState:
        for state, known in _IDS.items():
            if known == state_id:
                return state
        raise ValueError(f"unknown transaction state id {state_id}")

    @classmethod
    def from_name(cls, name: str) -> TransactionState | None:
        try:
            return cls(name)
        except ValueError:
            return None

    @property
    def expiration_allowed(self) -> bool:
        """Whether an idle transactional id in this state may expire."""
        return self in _EXPIRABLE


_IDS: dict[TransactionState, int] = {
    TransactionState.EMPTY: 0,
    TransactionState.ONGOING: 1,
    TransactionState.PREPARE_COMMIT: 2,
    TransactionState.PREPARE_ABORT: 3,
    TransactionState.COMPLETE_COMMIT: 4,
    TransactionState.COMPLETE_ABORT: 5,
    TransactionState.DEAD: 6,
    TransactionState.PREPARE_EPOCH_FENCE: 7,
}

_EXPIRABLE = frozenset(
    {TransactionState.EMPTY, TransactionState.COMPLETE_COMMIT, TransactionState.COMPLETE_ABORT}
)

PREPARING = frozenset({TransactionState.PREPARE_COMMIT, TransactionState.PREPARE_ABORT})
COMPLETED = frozenset({TransactionState.COMPLETE_COMMIT, TransactionState.COMPLETE_ABORT})

_S = TransactionState

# target state -> the states a transaction may be in to move there
VALID_PREVIOUS_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    _S.EMPTY: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.ONGOING: frozenset({_S.ONGOING, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_COMMIT: frozenset({_S.ONGOING}),
    _S.PREPARE_ABORT: frozenset(
        {_S.ONGOING, _S.PREPARE_EPOCH_FENCE, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}
    ),
    _S.COMPLETE_COMMIT: frozenset({_S.PREPARE_COMMIT}),
    _S.COMPLETE_ABORT: frozenset({_S.PREPARE_ABORT}),
    _S.DEAD: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_EPOCH_FENCE: frozenset({_S.ONGOING}),
}


class IllegalTransition(KafkaError):
    """A state change the table does not allow: a coordinator bug, never the client's fault."""

    def __init__(self, transactional_id: str, current: TransactionState, target: TransactionState) -> None:
        super().__init__(
            ErrorCode.UNKNOWN_SERVER_ERROR,
            f"transaction {transactional_id!r} cannot move from {current.value} to {target.value}",
        )
        self.current = current
        self.target = target


def can_transition(current: TransactionState, target: TransactionState) -> bool:
    return current in VALID_PREVIOUS_STATES[target]


def check_transition(transactional_id: str, current: TransactionState, target: TransactionState) -> None:
    """Raise :class:`IllegalTransition` unless the table allows ``current -> target``."""
    if current not in VALID_PREVIOUS_STATES[target]:
        raise IllegalTransition(transactional_id, current, target)
