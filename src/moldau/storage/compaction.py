"""Compaction of one record batch: which records survive, and the bytes of what survives.

Pure functions over bytes, called by the cleaner's worker (clean_job.py) for every batch of
the segments it rewrites. A record survives when it is the latest of its key in the offset
map (or lies past what the map covers), unless it is a tombstone (null value) whose batch's
delete horizon has passed. Records without a key do not survive (a compacted topic refuses
them on produce; older data may hold some).

The outcome for a batch, as Kafka's ``MemoryRecords.filterTo`` decides it:

* every record survives and no delete horizon is needed: the **same bytes**;
* some survive: a **rebuilt** batch holding exactly those records. It keeps the original base
  offset and last offset delta (so the batch covers the same offsets and the producer's
  sequence numbers still line up), each record its offset delta, the producer id, epoch and
  base sequence, the partition leader epoch, the timestamp type and the codec (the records
  are inflated and compressed again with the same codec, snappy keeping its framing). The
  max timestamp is recomputed from the survivors (LogAppendTime batches keep theirs);
* none survive: the batch is **dropped**, or, when the caller asks (the last batch of a
  producer, the last batch of the cleaning round), replaced by an **empty batch**: the
  61-byte header with the same offsets and producer fields, no records, no compression,
  base and max timestamp both the old max timestamp.

Delete horizon (Kafka 4, KIP-534): when a batch that keeps a tombstone has no horizon yet, the
rebuilt batch gets one, ``now + delete.retention.ms``. It is stored as Kafka stores it: bit 6
of the attributes set and the horizon in the base timestamp field, every record's timestamp
delta recomputed against it so that record timestamps read back unchanged. Cleanings after
the horizon drop the batch's tombstones. So a tombstone lives ``delete.retention.ms`` past the
cleaning that first kept it, then until the next cleaning of its segment.

Transactions (the caller decides, txn_cleaning.py, and passes ``discard``): a data batch of an
aborted transaction loses all its records. A control batch keeps its records; when it is an
end-transaction marker whose transaction has no data left (``discard``), it gets a delete
horizon the same way, and once that has passed it goes; where the caller wants an empty batch
instead, the marker stays whole for a later cleaning to remove, as coordinators and consumers
expect a marker to hold its record. Any other control batch is returned untouched. Committed
transactional batches are compacted like any other.
"""

from __future__ import annotations

import dataclasses
import struct

from moldau.protocol.primitives import encode_varint
from moldau.protocol.records.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    CRC_START,
    DELETE_HORIZON_BIT,
    HEADER_SIZE,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    BatchHeader,
    crc32c,
    encode_batch,
)
from moldau.protocol.records.compression import Compression, compress, is_xerial
from moldau.protocol.records.records import (
    Record,
    build_batch,
    decode_records,
    decode_section,
    records_section,
    section_offsets_and_keys,
)
from moldau.protocol.records.scan import record_spans, section_ok
from moldau.storage.offset_map import OffsetMap

_I16 = struct.Struct(">h")
_U32 = struct.Struct(">I")

Batch = bytes | bytearray | memoryview


def delete_horizon(h: BatchHeader) -> int | None:
    """The batch's delete horizon (ms), None when it has none."""
    return h.base_timestamp if h.attributes & DELETE_HORIZON_BIT else None


def retains(
    offset: int, key: bytes | None, tombstone: bool, offsets: OffsetMap, horizon: int | None, now_ms: int
) -> bool:
    """Kafka's ``shouldRetainRecord`` for v2 batches."""
    if offset > offsets.latest_offset:
        return True
    if key is None:
        return False
    if offset < offsets.get(key):
        return False
    return not tombstone or horizon is None or now_ms < horizon


def clean_batch(
    batch: Batch,
    h: BatchHeader,
    offsets: OffsetMap,
    *,
    now_ms: int,
    delete_retention_ms: int,
    keep_empty: bool,
    discard: bool = False,
) -> Batch | None:
    """What the cleaned segment gets for this batch (see the module docstring): ``batch``
    itself, a rebuilt or empty batch, or None to drop it. ``discard``: a data batch of an
    aborted transaction, or a marker whose transaction has no data left. The records are not
    decoded: what survives is decided from each record's offset, key and whether it is a
    tombstone, and a rebuilt batch copies the bytes of the records it keeps."""
    if h.is_control:
        return _clean_control(batch, h, now_ms, delete_retention_ms, keep_empty, discard)
    if discard:
        return empty_batch(h) if keep_empty else None
    horizon = delete_horizon(h)
    section = records_section(memoryview(batch), h)
    records = section_offsets_and_keys(section, h)
    kept = [retains(o, k, t, offsets, horizon, now_ms) for o, k, t in records]
    if not any(kept):
        if not keep_empty:
            return None
        return batch if not records else empty_batch(h)
    needs_horizon = horizon is None and any(t for (_, _, t), keep in zip(records, kept, strict=True) if keep)
    if all(kept) and not needs_horizon:
        return batch
    if needs_horizon:
        horizon = now_ms + delete_retention_ms
    return rebuild_kept(batch, h, section, kept, horizon)


def _clean_control(
    batch: Batch, h: BatchHeader, now_ms: int, delete_retention_ms: int, keep_empty: bool, discard: bool
) -> Batch | None:
    if h.records_count == 0:  # emptied before: nothing to keep but its offsets
        return batch if keep_empty else None
    if not discard:
        return batch
    horizon = delete_horizon(h)
    if horizon is None:
        return rebuild_batch(batch, h, decode_records(batch), now_ms + delete_retention_ms)
    if now_ms < horizon or keep_empty:  # a marker is never emptied: readers parse its record
        return batch
    return None


def rebuild_batch(batch: Batch, h: BatchHeader, kept: list[Record], horizon: int | None) -> bytes:
    """A batch with the header fields of ``h`` holding only ``kept`` (records decoded from
    ``batch``, in order), with ``horizon`` as its delete horizon when not None."""
    created = [h.base_timestamp + r.timestamp_delta for r in kept]  # as the producer set them
    base_ts = horizon if horizon is not None else created[0]
    records = [
        Record(r.offset_delta, ts - base_ts, r.key, r.value, r.headers, r.attributes)
        for r, ts in zip(kept, created, strict=True)
    ]
    data = build_batch(
        records,
        base_offset=h.base_offset,
        compression=h.compression,
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        base_sequence=h.base_sequence,
        transactional=h.is_transactional,
        control=h.is_control,
        partition_leader_epoch=h.partition_leader_epoch,
        log_append_time=h.log_append_time,
        base_timestamp=base_ts,
        max_timestamp=h.max_timestamp if h.log_append_time else max(created),
        last_offset_delta=h.last_offset_delta,
        xerial_snappy=h.compression == Compression.SNAPPY and is_xerial(memoryview(batch)[HEADER_SIZE:]),
    )
    return _mark_delete_horizon(data) if horizon is not None else data


def rebuild_kept(
    batch: Batch, h: BatchHeader, section: bytes | memoryview, kept: list[bool], horizon: int | None
) -> bytes:
    """``rebuild_batch`` of the records of ``section`` (the batch's records, inflated) whose
    ``kept`` flag is set, made from their bytes: each kept record is copied with its timestamp
    delta (and so its length) rewritten against the new base timestamp, and nothing is decoded.
    A section that is not well formed is decoded, for the error ``decode_section`` raises."""
    spans = None
    well_formed = section_ok(  # every field of every record; timestamps (low None) not judged
        section, h.records_count, base_timestamp=h.base_timestamp, low=None, high=0, keys_required=False
    )
    if well_formed:
        spans = record_spans(section, h.records_count)
    if spans is None:
        decoded = decode_section(section, h)
        return rebuild_batch(batch, h, [r for r, keep in zip(decoded, kept, strict=True) if keep], horizon)
    chosen = [span for span, keep in zip(spans, kept, strict=True) if keep]
    created = [h.base_timestamp + delta for _, delta, _, _ in chosen]  # as the producer set them
    base_ts = horizon if horizon is not None else created[0]
    shift = h.base_timestamp - base_ts
    out = bytearray()
    for attributes, delta, rest, end in chosen:
        moved = encode_varint(delta + shift)
        out += encode_varint(1 + len(moved) + end - rest)
        out.append(section[attributes])
        out += moved
        out += section[rest:end]
    codec = h.compression
    if codec != Compression.NONE:
        xerial = codec == Compression.SNAPPY and is_xerial(memoryview(batch)[HEADER_SIZE:])
        payload: bytes | bytearray = compress(codec, out, xerial=xerial)
    else:
        payload = out
    attributes_kept = h.attributes & (COMPRESSION_MASK | TIMESTAMP_TYPE_BIT | TRANSACTIONAL_BIT | CONTROL_BIT)
    header = dataclasses.replace(
        h,
        batch_length=0,
        crc=0,
        attributes=attributes_kept | (DELETE_HORIZON_BIT if horizon is not None else 0),
        base_timestamp=base_ts,
        max_timestamp=h.max_timestamp if h.log_append_time else max(created),
        records_count=len(chosen),
    )
    return encode_batch(header, payload)


def empty_batch(h: BatchHeader) -> bytes:
    """Kafka's empty batch for a batch whose records all went (``writeEmptyHeader``)."""
    return build_batch(
        [],
        base_offset=h.base_offset,
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        base_sequence=h.base_sequence,
        transactional=h.is_transactional,
        control=h.is_control,
        partition_leader_epoch=h.partition_leader_epoch,
        log_append_time=h.log_append_time,
        base_timestamp=h.max_timestamp,
        max_timestamp=h.max_timestamp,
        last_offset_delta=h.last_offset_delta,
    )


def _mark_delete_horizon(data: bytes) -> bytes:
    """Set attribute bit 6 (the base timestamp is the delete horizon) and fix the CRC."""
    buf = bytearray(data)
    _I16.pack_into(buf, CRC_START, _I16.unpack_from(buf, CRC_START)[0] | DELETE_HORIZON_BIT)
    _U32.pack_into(buf, 17, crc32c(memoryview(buf)[CRC_START:]))
    return bytes(buf)
