from __future__ import annotations

import json
import logging
import os
import uuid

import pytest

from moldau.protocol.records.batch import iter_headers
from moldau.storage.config import LogConfig
from moldau.storage.log_dir import MetaPropertiesError, parse_properties
from moldau.storage.manager import LogManager
from moldau.util.uuids import uuid_to_str

from .helpers import TOPIC_ID, append, make_batch, offsets_in, segment_files

OTHER_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")


@pytest.fixture
def manager_factory(tmp_path, clock, fs):
    dirs = [str(tmp_path / "data")]

    def make(*, log_dirs=None, node_id=1, cluster_id=None, config=None, **kw) -> LogManager:
        return LogManager(
            log_dirs or dirs,
            clock,
            config or LogConfig(),
            node_id=node_id,
            cluster_id=cluster_id,
            fs=fs,
            **kw,
        )

    return make


def test_fresh_directory_gets_meta_properties(manager_factory, tmp_path):
    manager = manager_factory(cluster_id="vD3rQ8AhSAOFf1_3c9HkUw")
    manager.load({})
    text = (tmp_path / "data" / "meta.properties").read_text()
    props = parse_properties(text)
    assert props["version"] == "1"
    assert props["cluster.id"] == "vD3rQ8AhSAOFf1_3c9HkUw"
    assert props["node.id"] == "1"
    assert len(props["directory.id"]) == 22
    assert text.startswith("#")


def test_cluster_id_is_adopted_then_enforced(manager_factory):
    first = manager_factory()
    generated = first.open()
    assert len(generated) == 22
    assert manager_factory().open() == generated
    with pytest.raises(MetaPropertiesError, match="cluster"):
        manager_factory(cluster_id="AAAAAAAAAAAAAAAAAAAAAA").load({})
    with pytest.raises(MetaPropertiesError, match=r"node\.id=7"):
        manager_factory(node_id=7).load({})


def test_version_0_meta_properties_are_read(manager_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("#\nversion=0\nbroker.id=1\ncluster.id=abc\n")
    assert manager_factory().open() == "abc"


def test_shutdown_writes_checkpoints_and_marker_and_restart_is_clean(manager_factory, tmp_path, fs):
    config = LogConfig(segment_bytes=1024)
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, config), ("orders", 1): (TOPIC_ID, config)})
    p0 = manager.get_log("orders", 0)
    assert p0 is not None
    for _ in range(30):
        append(p0, make_batch(2))
    p0.delete_records_before(10)
    before = p0.read(10, 1 << 20).data
    manager.shutdown()

    data = tmp_path / "data"
    assert json.loads((data / ".kafka_cleanshutdown").read_text()) == {"version": 0, "brokerEpoch": -1}
    assert (data / "recovery-point-offset-checkpoint").read_text() == "0\n2\norders 0 60\norders 1 0\n"
    assert (data / "log-start-offset-checkpoint").read_text() == "0\n2\norders 0 10\norders 1 0\n"
    assert (
        data / "orders-0" / "partition.metadata"
    ).read_text() == f"version: 0\ntopic_id: {uuid_to_str(TOPIC_ID)}\n"

    fs.reads.clear()
    again = manager_factory()
    again.load({("orders", 0): (TOPIC_ID, config), ("orders", 1): (TOPIC_ID, config)})
    assert not (data / ".kafka_cleanshutdown").exists()
    names = segment_files(str(data / "orders-0"))
    assert fs.data_reads(names[:-1]) == 0
    p0 = again.get_log("orders", 0)
    assert p0 is not None
    assert (p0.log_start_offset, p0.log_end_offset, p0.recovery_point) == (10, 60, 60)
    assert p0.read(10, 1 << 20).data == before


def test_unclean_restart_recovers_from_the_checkpointed_recovery_point(manager_factory, tmp_path, fs, caplog):
    config = LogConfig(segment_bytes=1024)
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, config)})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    for _ in range(20):
        append(plog, make_batch(2))
    plog.flush()
    manager.checkpoint()
    for _ in range(3):
        append(plog, make_batch(2))
    active = plog.segments.active
    with open(active.log_path, "r+b") as f:  # the last batch only half reached the disk
        f.truncate(active.size - 40)
    # no shutdown: the process died
    fs.reads.clear()
    with caplog.at_level(logging.WARNING):
        again = manager_factory()
        again.load({("orders", 0): (TOPIC_ID, config)})
    recovered = again.get_log("orders", 0)
    assert recovered is not None
    assert recovered.log_end_offset == 44
    assert any("Truncating" in r.getMessage() for r in caplog.records)
    names = segment_files(plog.dir)
    assert fs.data_reads(names[:-2]) == 0  # only segments from the recovery point on were read


def test_new_logs_go_to_the_emptiest_directory(manager_factory, tmp_path):
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    manager = manager_factory(log_dirs=dirs)
    manager.load({})
    for p in range(4):
        manager.create_log("t", p, TOPIC_ID)
    assert sorted(manager.logs_in(dirs[0])) == [("t", 0), ("t", 2)]
    assert sorted(manager.logs_in(dirs[1])) == [("t", 1), ("t", 3)]
    assert manager.create_log("t", 0, TOPIC_ID) is manager.get_log("t", 0)


def test_delete_log_removes_the_directory(manager_factory, tmp_path):
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    append(plog, make_batch(3))
    assert manager.delete_log("orders", 0)
    assert not manager.delete_log("orders", 0)
    assert manager.get_log("orders", 0) is None
    assert sorted(os.listdir(tmp_path / "data")) == ["meta.properties"]


def test_interrupted_deletion_is_finished_at_load(manager_factory, tmp_path):
    leftover = tmp_path / "data" / "orders-0.0123456789abcdef0123456789abcdef-delete"
    leftover.mkdir(parents=True)
    (leftover / f"{0:020d}.log").write_bytes(b"x")
    manager_factory().load({})
    assert not leftover.exists()


def test_set_config_applies_at_once(manager_factory):
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    for _ in range(5):
        append(plog, make_batch(2))
    manager.set_config("orders", LogConfig(segment_bytes=300))
    for _ in range(5):
        append(plog, make_batch(2))
    assert len(plog.segments) > 2
    assert manager.create_log("orders", 1, TOPIC_ID).config.segment_bytes == 300


def test_unknown_and_foreign_directories(manager_factory, tmp_path, caplog):
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, LogConfig()), ("gone", 0): (TOPIC_ID, LogConfig())})
    for tp in (("orders", 0), ("gone", 0)):
        plog = manager.get_log(*tp)
        assert plog is not None
        append(plog, make_batch(1))
    manager.shutdown()

    with caplog.at_level(logging.WARNING):
        again = manager_factory()
        again.load({("orders", 0): (OTHER_ID, LogConfig())})  # "gone" is not listed; "orders" was recreated
    names = os.listdir(tmp_path / "data")
    assert "gone-0" in names  # left alone
    assert again.get_log("gone", 0) is None
    assert [n for n in names if n.startswith("orders-0.") and n.endswith("-stray")]
    fresh = again.get_log("orders", 0)
    assert fresh is not None and fresh.log_end_offset == 0 and fresh.topic_id == OTHER_ID


def test_load_reports_progress(manager_factory, caplog):
    manager = manager_factory(progress_every=2)
    topics = {("t", p): (TOPIC_ID, LogConfig()) for p in range(4)}
    manager.load(topics)
    manager.shutdown()
    with caplog.at_level(logging.INFO, logger="moldau.storage.manager"):
        manager_factory(progress_every=2).load(topics)
    progress = [r.getMessage() for r in caplog.records if "of 4 partition directories" in r.getMessage()]
    assert progress == ["Loaded 2 of 4 partition directories", "Loaded 4 of 4 partition directories"]


def test_read_after_restart_matches_batches(manager_factory):
    manager = manager_factory()
    manager.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = manager.get_log("orders", 0)
    assert plog is not None
    append(plog, make_batch(2, ts=5), leader_epoch=4)
    manager.shutdown()
    again = manager_factory()
    again.load({("orders", 0): (TOPIC_ID, LogConfig())})
    plog = again.get_log("orders", 0)
    assert plog is not None
    assert offsets_in(plog.read(0, 1000).data) == [(0, 1)]
    ((_, h),) = iter_headers(plog.read(0, 1000).data)
    assert h.partition_leader_epoch == 4
    assert plog.end_offset_for_epoch(4) == (4, 2)
