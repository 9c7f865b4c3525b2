"""Partition logs on local disk, laid out as Kafka lays them out.

Layers, each used only by the one above it:

* ``index``: the sparse offset and time indexes of one segment (``.index``, ``.timeindex``).
* ``segment``: one ``.log`` file of record batches with its indexes; ``batch_reader`` walks
  its batches with positioned reads; ``segment_recovery`` re-derives its indexes and state
  from the batches (after a crash, on truncation); ``timestamp_search`` finds a record by
  timestamp.
* ``segments``: the ordered segments of a partition (floor lookup by base offset).
* ``log``: ``PartitionLog``, one partition: offsets, its directory (``partition_dir``),
  appends (``log_append``), reads (``log_read``), removing data (``log_removal``: old
  segments, truncation), the leader epoch cache (``epoch_cache``).
* ``producer_state``: idempotent and transactional producers of a partition (sequences,
  epochs, duplicates, open transactions, the last stable offset), pure logic;
  ``producer_store``: its files, the ``.snapshot``s (``producer_snapshot``) and the aborted
  transaction indexes ``.txnindex`` (``txn_index``), and rebuilding both from the log.
* ``recovery``: opening a partition directory after a clean or an unclean stop.
* ``retention``: which old segments go, by time, size and the log start offset;
  ``deletion``: their files go in two steps (``.deleted``, then ``file.delete.delay.ms``).
* ``cleaner``: compaction of ``cleanup.policy=compact`` logs: choosing a log and swapping the
  result in (``swap``), on the event loop; the rewriting (``clean_job``, ``compaction``,
  ``offset_map``) on worker threads.
* ``manager``: ``LogManager``, every partition across the data directories, with the
  directory-level files (``log_dir``, ``checkpoints``).

Everything is synchronous plain file I/O through ``moldau.util.fs``, called from the broker's
single event loop, with no locks. The one exception is the cleaner's rewriting, which runs on
worker threads over immutable snapshots and new files of its own (see cleaner.py for who owns
what). I/O failures surface as ``KafkaError(KAFKA_STORAGE_ERROR)``.
"""

from moldau.storage.config import LogConfig
from moldau.storage.log import PartitionLog
from moldau.storage.log_append import AppendInfo
from moldau.storage.log_read import FetchData, OffsetAndTimestamp
from moldau.storage.manager import LogManager
from moldau.storage.producer_state import AppendOrigin

__all__ = [
    "AppendInfo",
    "AppendOrigin",
    "FetchData",
    "LogConfig",
    "LogManager",
    "OffsetAndTimestamp",
    "PartitionLog",
]
