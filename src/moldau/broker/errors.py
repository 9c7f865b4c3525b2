"""The one place that turns exceptions into (error code, message) pairs for responses."""

from __future__ import annotations

import logging

from moldau.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger(__name__)


def error_of(exc: Exception, what: str) -> tuple[ErrorCode, str | None]:
    """A KafkaError maps to its own code; anything else is a bug, logged with its traceback."""
    if isinstance(exc, KafkaError):
        return exc.code, exc.message
    log.error("unexpected error in %s", what, exc_info=exc)
    return ErrorCode.UNKNOWN_SERVER_ERROR, f"unexpected error: {type(exc).__name__}"
