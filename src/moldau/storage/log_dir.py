"""Files that describe a whole data directory (one entry of ``log.dirs``), in Kafka's formats.

``meta.properties`` (see ``MetaProperties``) says which cluster and node the directory
belongs to, so a directory copied to the wrong broker, or a broker pointed at another
cluster's data, is refused at startup instead of silently mixing data.

``.kafka_cleanshutdown`` (see ``write_clean_shutdown``) exists only between a clean shutdown
and the next start, and tells the loader that every log was flushed and closed, so no segment
needs checking. The loader removes it, durably, before anything is appended.
"""

from __future__ import annotations

import json
import os

from moldau.util.datatype import datatype
from moldau.util.fs import FileSystem
from moldau.util.uuids import random_uuid_str

META_PROPERTIES = "meta.properties"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"


class MetaPropertiesError(Exception):
    """A data directory that belongs to another cluster or node, or whose
    ``meta.properties`` cannot be read. Startup must stop; the message says what to do."""


@datatype(frozen=True, slots=True)
class MetaProperties:
    """A data directory's identity. ``meta.properties`` is Java properties text (``key=value``
    lines, ``#`` comments), as Kafka writes it::

        #
        #Written by Moldau
        cluster.id=vD3rQ8AhSAOFf1_3c9HkUw
        directory.id=e2Jd0mF6S0ua1K6lRb2TpA
        node.id=1
        version=1

    Version 0 files (written by ZooKeeper-era Kafka) carry ``broker.id`` instead of
    ``node.id``; they are read as the same thing."""

    cluster_id: str
    node_id: int
    directory_id: str

    def to_text(self) -> str:
        lines = [
            "#",
            "#Written by Moldau",
            f"cluster.id={self.cluster_id}",
            f"directory.id={self.directory_id}",
            f"node.id={self.node_id}",
            "version=1",
        ]
        return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """The ``key=value`` (or ``key: value``) pairs of a Java properties file; comments and blank
    lines skipped. Escapes are not interpreted: Kafka's own values never contain any."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut < 0:
            props[line] = ""
        else:
            props[line[:cut].strip()] = line[cut + 1 :].strip()
    return props


def read_meta_properties(fs: FileSystem, log_dir: str) -> MetaProperties | None:
    """The directory's identity, or None when it has no ``meta.properties`` yet."""
    path = os.path.join(log_dir, META_PROPERTIES)
    if not fs.exists(path):
        return None
    props = parse_properties(fs.read_file(path).decode("utf-8", errors="replace"))
    version = props.get("version")
    node_key = {"0": "broker.id", "1": "node.id"}.get(version or "")
    if node_key is None:
        raise MetaPropertiesError(f"{path}: unsupported version {version!r}")
    try:
        node_id = int(props[node_key])
        cluster_id = props["cluster.id"]
    except (KeyError, ValueError) as e:
        raise MetaPropertiesError(f"{path}: missing or invalid {e}") from None
    return MetaProperties(cluster_id, node_id, props.get("directory.id") or random_uuid_str())


def write_meta_properties(fs: FileSystem, log_dir: str, meta: MetaProperties) -> None:
    fs.write_atomic(os.path.join(log_dir, META_PROPERTIES), meta.to_text().encode("utf-8"))


def ensure_meta_properties(fs: FileSystem, log_dir: str, cluster_id: str, node_id: int) -> MetaProperties:
    """Check that ``log_dir`` belongs to this cluster and node, or claim it when it is new.
    Raises MetaPropertiesError on a mismatch."""
    meta = read_meta_properties(fs, log_dir)
    path = os.path.join(log_dir, META_PROPERTIES)
    if meta is None:
        meta = MetaProperties(cluster_id, node_id, random_uuid_str())
        write_meta_properties(fs, log_dir, meta)
        return meta
    if meta.cluster_id != cluster_id:
        raise MetaPropertiesError(
            f"{path} says this directory belongs to cluster {meta.cluster_id}, but this broker is "
            f"in cluster {cluster_id}. Point log.dirs at this cluster's data, or empty the "
            "directory to start over."
        )
    if meta.node_id != node_id:
        raise MetaPropertiesError(
            f"{path} says this directory belongs to node {meta.node_id}, but this broker is "
            f"node.id={node_id}. Configure node.id={meta.node_id}, or use another directory."
        )
    return meta


# -- clean shutdown marker -------------------------------------------------------------------


def write_clean_shutdown(fs: FileSystem, log_dir: str, broker_epoch: int = -1) -> None:
    """``.kafka_cleanshutdown``: one line of JSON, as Kafka writes it::

    {"version":0,"brokerEpoch":-1}
    """
    content = json.dumps({"version": 0, "brokerEpoch": broker_epoch}, separators=(",", ":"))
    fs.write_atomic(os.path.join(log_dir, CLEAN_SHUTDOWN_FILE), content.encode("utf-8"))


def take_clean_shutdown(fs: FileSystem, log_dir: str) -> bool:
    """Whether the previous stop was clean; removes the marker (and makes the removal durable)
    so that a crash from now on is seen as unclean."""
    path = os.path.join(log_dir, CLEAN_SHUTDOWN_FILE)
    if not fs.exists(path):
        return False
    fs.remove(path)
    fs.fsync_dir(log_dir)
    return True
