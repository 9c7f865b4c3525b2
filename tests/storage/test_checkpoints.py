from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from moldau.storage.checkpoints import (
    CheckpointError,
    read_epochs,
    read_offsets,
    read_partition_metadata,
    write_epochs,
    write_offsets,
    write_partition_metadata,
)
from moldau.storage.epoch_cache import LeaderEpochCache
from moldau.util.fs import LOCAL
from moldau.util.uuids import uuid_from_str, uuid_to_str


def test_offset_checkpoint_format(tmp_path):
    path = str(tmp_path / "recovery-point-offset-checkpoint")
    write_offsets(LOCAL, path, {("orders", 1): 1320, ("orders", 0): 1500, ("a.b-c", 12): 0})
    assert Path(path).read_text() == "0\n3\na.b-c 12 0\norders 0 1500\norders 1 1320\n"
    assert read_offsets(LOCAL, path) == {("orders", 1): 1320, ("orders", 0): 1500, ("a.b-c", 12): 0}
    assert read_offsets(LOCAL, str(tmp_path / "missing")) == {}


def test_offset_checkpoint_as_kafka_writes_it(tmp_path):
    path = tmp_path / "log-start-offset-checkpoint"
    path.write_text("0\n2\n__consumer_offsets 7 0\nmy-topic 0 42\n")
    assert read_offsets(LOCAL, str(path)) == {("__consumer_offsets", 7): 0, ("my-topic", 0): 42}


@pytest.mark.parametrize(
    "text",
    ["1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "0\n", "0\nmany\n"],
)
def test_bad_checkpoints_are_reported(tmp_path, text):
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(CheckpointError, match="cp"):
        read_offsets(LOCAL, str(path))


def test_epoch_checkpoint_format(tmp_path):
    path = str(tmp_path / "leader-epoch-checkpoint")
    write_epochs(LOCAL, path, [(0, 0), (3, 1450)])
    assert Path(path).read_text() == "0\n2\n0 0\n3 1450\n"
    assert read_epochs(LOCAL, path) == [(0, 0), (3, 1450)]
    assert read_epochs(LOCAL, str(tmp_path / "missing")) is None


def test_partition_metadata_format(tmp_path):
    path = str(tmp_path / "partition.metadata")
    topic_id = uuid.UUID("bc3deb43-c021-4803-857f-5ff773d1e453")
    write_partition_metadata(LOCAL, path, topic_id)
    assert Path(path).read_text() == "version: 0\ntopic_id: vD3rQ8AhSAOFf1_3c9HkUw\n"
    assert read_partition_metadata(LOCAL, path) == topic_id
    assert read_partition_metadata(LOCAL, str(tmp_path / "missing")) is None


def test_kafka_uuid_text():
    topic_id = uuid.UUID("bc3deb43-c021-4803-857f-5ff773d1e453")
    assert uuid_to_str(topic_id) == "vD3rQ8AhSAOFf1_3c9HkUw"
    assert uuid_from_str("vD3rQ8AhSAOFf1_3c9HkUw") == topic_id
    with pytest.raises(ValueError):
        uuid_from_str("too-short")


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, fs):
    path = str(tmp_path / "cp")
    write_offsets(fs, path, {("t", 0): 1})
    fs.fail_write = lambda p: p.endswith(".tmp")
    with pytest.raises(OSError):
        write_offsets(fs, path, {("t", 0): 2, ("t", 1): 5})
    assert read_offsets(fs, path) == {("t", 0): 1}
    assert os.listdir(tmp_path) == ["cp"]
    fs.fail_write = None
    write_offsets(fs, path, {("t", 0): 2})
    assert read_offsets(fs, path) == {("t", 0): 2}


# -- leader epoch cache --------------------------------------------------------------------------


def cache(tmp_path) -> LeaderEpochCache:
    return LeaderEpochCache(LOCAL, str(tmp_path / "leader-epoch-checkpoint"))


def test_assign_ignores_repeats_and_replaces_conflicts(tmp_path):
    c = cache(tmp_path)
    c.assign(0, 0)
    c.assign(0, 5)  # same epoch, later offset: nothing new
    c.assign(2, 10)
    c.assign(4, 20)
    assert c.entries == [(0, 0), (2, 10), (4, 20)]
    c.assign(3, 15)  # a new leader that did not see epoch 4's records
    assert c.entries == [(0, 0), (2, 10), (3, 15)]
    c.assign(-1, 30)
    assert c.latest_epoch == 3
    assert cache(tmp_path).entries == [(0, 0), (2, 10), (3, 15)]


def test_end_offset_for_epoch(tmp_path):
    c = cache(tmp_path)
    assert c.end_offset_for(0, 100) == (-1, -1)
    c.assign(1, 10)
    c.assign(3, 30)
    c.assign(5, 50)
    assert c.end_offset_for(-1, 100) == (-1, -1)
    assert c.end_offset_for(0, 100) == (0, 10)  # before every known epoch
    assert c.end_offset_for(1, 100) == (1, 30)
    assert c.end_offset_for(2, 100) == (1, 30)  # unknown epoch: the one before it ends there
    assert c.end_offset_for(3, 100) == (3, 50)
    assert c.end_offset_for(5, 100) == (5, 100)  # the latest epoch ends at the log end
    assert c.end_offset_for(6, 100) == (-1, -1)


def test_truncation(tmp_path):
    c = cache(tmp_path)
    for epoch, start in [(1, 10), (3, 30), (5, 50)]:
        c.assign(epoch, start)
    c.truncate_from_end(50)
    assert c.entries == [(1, 10), (3, 30)]
    c.truncate_from_start(35)
    assert c.entries == [(3, 35)]
    c.truncate_from_start(35)
    assert c.epoch_for_offset(34) == -1 and c.epoch_for_offset(40) == 3
    assert Path(tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n3 35\n"


def test_unreadable_epoch_checkpoint_starts_empty(tmp_path, caplog):
    (tmp_path / "leader-epoch-checkpoint").write_text("0\n2\n1 10\n")
    assert cache(tmp_path).entries == []
    assert "unreadable" in caplog.text
