"""The internal client: ``ClientConnection`` speaks the protocol layer over asyncio."""

from moldau.client.connection import ClientConnection

__all__ = ["ClientConnection"]
