"""The broker settings the transaction coordinator obeys, under Kafka's names and defaults."""

from __future__ import annotations

from moldau.util.datatype import datatype


@datatype(frozen=True, slots=True)
class TxnConfig:
    transaction_state_log_num_partitions: int = 50  # transaction.state.log.num.partitions
    transaction_max_timeout_ms: int = 900000  # transaction.max.timeout.ms
    transactional_id_expiration_ms: int = 604800000  # transactional.id.expiration.ms
    # transaction.abort.timed.out.transaction.cleanup.interval.ms
    transaction_abort_timed_out_transaction_cleanup_interval_ms: int = 10000
    # transaction.remove.expired.transaction.cleanup.interval.ms
    transaction_remove_expired_transaction_cleanup_interval_ms: int = 3600000
    # The finalized ``transaction.version`` feature level. Kafka 4.0 formats new clusters at 2:
    # level 1 and up writes the flexible TransactionLogValue (version 1), and transactions the
    # coordinator aborts on its own (timeouts, fencing) are recorded with this level.
    transaction_version: int = 2
