"""Moldau's test kit: an in-process broker (``Broker``) and pytest fixtures
(``moldau_broker``, ``moldau_broker_session``; see ``pytest_plugin``)."""

from moldau.testing.broker import Broker

__all__ = ["Broker"]
