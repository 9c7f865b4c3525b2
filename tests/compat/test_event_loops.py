"""The broker on either event loop (``moldau serve --event-loop``): uvloop, the default when it
is installed, and the standard library's asyncio loop, whose transports write differently.
Produce, a fetch of many batches in chunks, and a long-polling fetch woken by a produce."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import BrokerFactory

from .clients import Out, confluent_consume, confluent_produce, create_topic


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_produce_and_fetch_on_each_event_loop(broker_factory: BrokerFactory, loop: str) -> None:
    broker = broker_factory(args=["--event-loop", loop])
    assert f"event loop: {loop}" in broker.current_log()
    create_topic(broker.bootstrap, "loops", 1)
    values = [bytes([i % 251]) * 3000 for i in range(2000)]  # ~6 MB: fetch responses of many chunks
    acks = confluent_produce(broker.bootstrap, "loops", [Out(value=v) for v in values])
    assert [a.offset for a in acks] == list(range(2000))
    got = confluent_consume(broker.bootstrap, "loops", 2000)
    assert [g.value for g in got[:2000]] == values

    # A consumer waiting at the end of the log gets a new record long before fetch.wait.max.ms.
    late: list[float] = []

    def produce_later() -> None:
        time.sleep(1.0)
        late.append(time.monotonic())
        confluent_produce(broker.bootstrap, "loops", [Out(value=b"late")])

    thread = threading.Thread(target=produce_later)
    thread.start()
    got_late = confluent_consume(broker.bootstrap, "loops", 1, offset=2000, **{"fetch.wait.max.ms": 5000})
    arrived = time.monotonic()
    thread.join()
    assert got_late[0].value == b"late"
    assert arrived - late[0] < 2.5  # woken by the produce, not by the 5 s wait


def test_unknown_event_loop_is_refused(broker_factory: BrokerFactory) -> None:
    with pytest.raises(Exception, match="invalid choice"):
        broker_factory(args=["--event-loop", "tokio"])
