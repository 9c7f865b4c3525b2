"""Capture real clients' request frames as golden files.

Run from the repository root with a virtualenv that has the clients installed::

    .venv/bin/python tests/protocol/golden/capture.py

It starts a broker, puts a recording proxy in front of it, drives kafka-python, aiokafka,
confluent-kafka and kcat through the proxy (create a topic, produce with a codec, fetch), and
writes the first frame of each (client, API, version) to ``<client>-<api>-v<version>.bin``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
API_NAMES = {
    0: "produce",
    1: "fetch",
    2: "list_offsets",
    3: "metadata",
    18: "api_versions",
    19: "create_topics",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.client = "none"
        self.frames: dict[tuple[str, int, int], bytes] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)
        client = self.client

        async def pump_down() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
            writer.close()

        down = asyncio.ensure_future(pump_down())
        try:
            while True:
                size_bytes = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack(">i", size_bytes)[0])
                key, version = struct.unpack_from(">hh", body)
                if key in API_NAMES:
                    self.frames.setdefault((client, key, version), body)
                up_writer.write(size_bytes + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_writer.close()
            down.cancel()


def main() -> None:
    data_dir = tempfile.mkdtemp()
    broker_port, proxy_port = free_port(), free_port()
    broker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moldau",
            "serve",
            "--data-dir",
            data_dir,
            "--listeners",
            f"PLAINTEXT://127.0.0.1:{broker_port}",
            "--advertised-listeners",
            f"PLAINTEXT://127.0.0.1:{proxy_port}",
        ],
    )
    recorder = Recorder(broker_port)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.start_server(recorder.handle, "127.0.0.1", proxy_port))
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    time.sleep(1.0)
    bootstrap = f"127.0.0.1:{proxy_port}"
    try:
        recorder.client = "confluent"
        from confluent_kafka import Consumer, Producer, TopicPartition
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("golden", num_partitions=1)])["golden"].result(10)
        p = Producer({"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 0})
        p.produce("golden", key=b"k", value=b"v", headers=[("h", b"1")], timestamp=1700000000000)
        p.flush(10)
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g", "enable.auto.commit": False})
        c.assign([TopicPartition("golden", 0, 0)])
        c.poll(5)
        c.close()

        recorder.client = "kafka_python"
        from kafka import KafkaConsumer, KafkaProducer
        from kafka import TopicPartition as KTP

        kp = KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip")
        kp.send("golden", key=b"k", value=b"v", headers=[("h", b"1")], timestamp_ms=1700000000000).get(10)
        kp.close()
        kc = KafkaConsumer(bootstrap_servers=bootstrap)
        kc.assign([KTP("golden", 0)])
        kc.seek(KTP("golden", 0), 0)
        kc.poll(3000)
        kc.close()

        recorder.client = "aiokafka"
        from aiokafka import AIOKafkaProducer

        async def aio() -> None:
            ap = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="lz4")
            await ap.start()
            await ap.send_and_wait("golden", b"v", key=b"k", timestamp_ms=1700000000000)
            await ap.stop()

        asyncio.run(aio())

        recorder.client = "kcat"
        if shutil.which("kcat"):
            subprocess.run(
                ["kcat", "-b", bootstrap, "-t", "golden", "-P", "-z", "snappy"],
                input=b"v\n",
                check=True,
                timeout=20,
            )
            subprocess.run(
                ["kcat", "-b", bootstrap, "-t", "golden", "-C", "-e", "-o", "beginning"],
                check=True,
                timeout=20,
                capture_output=True,
            )
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
    for (client, key, version), body in sorted(recorder.frames.items()):
        path = HERE / f"{client}-{API_NAMES[key]}-v{version}.bin"
        path.write_bytes(body)
        print(f"wrote {path.name} ({len(body)} bytes)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
