"""The few Java behaviours a client can observe through the group coordinator.

Kafka's coordinator is Java, and some of its answers depend on Java's library semantics:

* which ``__consumer_offsets`` partition owns a group: ``Utils.abs(groupId.hashCode()) % n``,
  with ``String.hashCode`` over UTF-16 code units in 32-bit wrapping arithmetic and Kafka's
  ``Utils.abs`` (which maps ``Integer.MIN_VALUE`` to 0 rather than leaving it negative);
* the length limit on committed metadata, which counts UTF-16 code units (``String.length``),
  not code points;
* which protocol wins a tied vote: the first maximum in ``HashMap`` iteration order.

These functions reproduce exactly that and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable

_INT_MIN = -(2**31)


def _to_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value & 0x8000_0000 else value


def _utf16_units(text: str) -> list[int]:
    raw = text.encode("utf-16-be", "surrogatepass")
    return [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]


def string_hash_code(text: str) -> int:
    """Java's ``String.hashCode``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units,
    as a signed 32-bit int."""
    h = 0
    for unit in _utf16_units(text):
        h = (31 * h + unit) & 0xFFFFFFFF
    return _to_int32(h)


def kafka_abs(n: int) -> int:
    """Kafka's ``Utils.abs``: ``Math.abs`` except that ``Integer.MIN_VALUE`` gives 0."""
    return 0 if n == _INT_MIN else abs(n)


def partition_for(group_id: str, num_partitions: int) -> int:
    """The ``__consumer_offsets`` partition that owns ``group_id``."""
    return kafka_abs(string_hash_code(group_id)) % num_partitions


def string_length(text: str) -> int:
    """Java's ``String.length``: the number of UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _spread(h: int) -> int:
    h &= 0xFFFFFFFF
    return h ^ (h >> 16)


def hash_map_order(keys: Iterable[str]) -> list[str]:
    """The order in which a ``java.util.HashMap<String, ?>`` filled with ``keys`` (in this
    insertion order, duplicates ignored) iterates: by bucket index, then by insertion within a
    bucket. The table starts at 16 buckets and doubles whenever the map holds more than three
    quarters of its capacity, as HashMap does."""
    distinct = list(dict.fromkeys(keys))
    capacity = 16
    while len(distinct) > capacity * 3 // 4:
        capacity *= 2
    position = {key: i for i, key in enumerate(distinct)}
    return sorted(distinct, key=lambda k: (_spread(string_hash_code(k)) & (capacity - 1), position[k]))
