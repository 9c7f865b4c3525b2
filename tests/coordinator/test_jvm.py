"""Java semantics the coordinator reproduces: String.hashCode, Utils.abs, partitioning."""

from __future__ import annotations

from moldau.coordinator.group import GroupConfig, GroupCoordinator
from moldau.coordinator.group.jvm import (
    hash_map_order,
    kafka_abs,
    partition_for,
    string_hash_code,
    string_length,
)
from moldau.util.clock import ManualClock


def test_hash_code_of_group_1_by_hand():
    # h = s[0]*31^(n-1) + ... + s[n-1], step by step over "group-1":
    #   'g' 103                     -> 103
    #   'r' 114: 103*31 + 114       -> 3307
    #   'o' 111: 3307*31 + 111      -> 102628
    #   'u' 117: 102628*31 + 117    -> 3181585
    #   'p' 112: 3181585*31 + 112   -> 98629247
    #   '-'  45: 98629247*31 + 45   -> 3057506702
    #   '1'  49: 3057506702*31 + 49 -> 94782707811 = 22 * 2^32 + 293427299
    assert string_hash_code("group-1") == 293427299
    assert partition_for("group-1", 50) == 293427299 % 50 == 49


def test_hash_code_known_java_values():
    assert string_hash_code("") == 0
    assert string_hash_code("hello") == 99162322
    assert string_hash_code("Aa") == string_hash_code("BB") == 2112
    # a code point outside the BMP counts as its two UTF-16 surrogates: 0xD83D*31 + 0xDE00
    assert string_hash_code("\U0001f600") == 0xD83D * 31 + 0xDE00


def test_negative_hash_codes_and_integer_min_value():
    assert string_hash_code("my-group") == -1906497762
    assert partition_for("my-group", 50) == 1906497762 % 50
    # "polygenelubricants".hashCode() is Integer.MIN_VALUE; Kafka's Utils.abs maps it to 0
    assert string_hash_code("polygenelubricants") == -(2**31)
    assert kafka_abs(-(2**31)) == 0
    assert partition_for("polygenelubricants", 50) == 0


def test_coordinator_partition_for_uses_configured_partition_count():
    coordinator = GroupCoordinator(ManualClock(), GroupConfig(offsets_topic_num_partitions=7))
    assert coordinator.partition_for("group-1") == 293427299 % 7


def test_string_length_counts_utf16_units():
    assert string_length("abc") == 3
    assert string_length("é") == 1
    assert string_length("\U0001f600") == 2


def test_hash_map_order_is_bucket_order():
    # "b" (98) and "a" (97) land in buckets 2 and 1 of a 16-bucket table
    assert hash_map_order(["b", "a"]) == ["a", "b"]
    # "Aa" and "BB" collide: insertion order within the bucket
    assert hash_map_order(["BB", "Aa"]) == ["BB", "Aa"]
    assert hash_map_order(["range", "roundrobin"]) == hash_map_order(["roundrobin", "range"])
