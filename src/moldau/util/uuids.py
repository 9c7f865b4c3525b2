"""Kafka's text form of a UUID.

Kafka prints a UUID (topic ids, cluster ids, directory ids) as its 16 bytes in URL-safe
base64 without the ``=`` padding: 22 characters such as ``vD3rQ8AhSAOFf1_3c9HkUw``. The same
text appears in ``partition.metadata``, ``meta.properties`` and the admin tools, so Moldau
writes and reads exactly this form.
"""

from __future__ import annotations

import base64
import binascii
import uuid


def uuid_to_str(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode("ascii").rstrip("=")


def uuid_from_str(text: str) -> uuid.UUID:
    """Parse Kafka's 22-character form. Raises ValueError for anything else."""
    if len(text) != 22:
        raise ValueError(f"not a Kafka UUID (expected 22 characters): {text!r}")
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"not a Kafka UUID: {text!r}") from e
    return uuid.UUID(bytes=raw)


def random_uuid_str() -> str:
    """A fresh random UUID in Kafka's text form. Like Kafka, never one whose text starts with
    ``-``, which command lines would take for an option."""
    while True:
        text = uuid_to_str(uuid.uuid4())
        if not text.startswith("-"):
            return text
