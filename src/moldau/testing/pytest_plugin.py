"""pytest fixtures for a Moldau broker, registered through the ``pytest11`` entry point.

- ``moldau_broker``: a fresh broker for one test (its own data directory).
- ``moldau_broker_session``: one broker shared by the whole session.

Both expose ``.bootstrap_servers`` ("127.0.0.1:<port>").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moldau.testing.broker import Broker


@pytest.fixture
def moldau_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A Moldau broker for this test only, on a free loopback port."""
    with Broker(str(tmp_path_factory.mktemp("moldau"))) as broker:
        yield broker


@pytest.fixture(scope="session")
def moldau_broker_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Moldau broker for the whole test session; use topics of your own in each test."""
    with Broker(str(tmp_path_factory.mktemp("moldau-session"))) as broker:
        yield broker
