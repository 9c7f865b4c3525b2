"""Routes decoded requests to handler modules.

Each handler module (``broker/handlers/<api>.py``) exposes ``API`` (its ``Api`` declaration, whose
version range is what we advertise) and ``handle(ctx, request)``. ``handle`` returns the response
body, an awaitable of it (a handler that must wait, e.g. a long-polling Fetch), or
``NO_RESPONSE`` (Produce with acks=0). Per-entity errors are the handler's business; an
exception that escapes a handler is a bug: it is logged and the connection is closed, as Kafka
does for a request it cannot answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from moldau.broker.context import RequestContext
from moldau.protocol.connection import Request
from moldau.protocol.schema import Api

NO_RESPONSE: Any = object()

HandlerFn = Callable[[RequestContext, Any], Any]


class Handler(Protocol):
    """A handler module (or object): its API declaration and its ``handle`` function."""

    @property
    def API(self) -> Api: ...  # the name handler modules export

    def handle(self, ctx: RequestContext, req: Any, /) -> Any: ...


class Router:
    def __init__(self, modules: Iterable[Handler]) -> None:
        self._handlers: dict[int, HandlerFn] = {}
        apis: dict[int, Api] = {}
        for m in modules:
            api: Api = m.API
            if api.key in apis:
                raise RuntimeError(f"two handlers for API key {api.key}")
            apis[api.key] = api
            self._handlers[api.key] = m.handle
        self.apis = dict(sorted(apis.items()))

    def dispatch(self, ctx: RequestContext, request: Request) -> Any | Awaitable[Any]:
        if request.unsupported_version:
            from moldau.broker.handlers import api_versions

            return api_versions.unsupported(ctx)
        return self._handlers[request.api.key](ctx, request.body)


def default_handler_modules() -> list[Handler]:
    """Every API this broker serves; the ApiVersions answer is derived from this list."""
    from moldau.broker.handlers import (
        alter_configs,
        api_versions,
        create_partitions,
        create_topics,
        delete_records,
        delete_topics,
        describe_cluster,
        describe_configs,
        describe_log_dirs,
        describe_producers,
        fetch,
        find_coordinator,
        groups,
        incremental_alter_configs,
        init_producer_id,
        join_group,
        list_offsets,
        metadata,
        offset_commit,
        offset_for_leader_epoch,
        produce,
        transactions,
        txn_offset_commit,
        write_txn_markers,
    )

    modules: list[Handler] = [
        produce,
        fetch,
        list_offsets,
        metadata,
        offset_for_leader_epoch,
        api_versions,
        create_topics,
        delete_topics,
        delete_records,
        init_producer_id,
        describe_configs,
        alter_configs,
        describe_log_dirs,
        create_partitions,
        incremental_alter_configs,
        describe_cluster,
        find_coordinator,
        join_group,
        offset_commit,
        txn_offset_commit,
        write_txn_markers,
        describe_producers,
    ]
    return [*modules, *groups.HANDLERS, *transactions.HANDLERS]
