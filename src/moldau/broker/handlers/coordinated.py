"""Handlers that pass their request straight to a coordinator operation."""

from __future__ import annotations

from typing import Any

from moldau.broker.context import RequestContext
from moldau.protocol.schema import Api
from moldau.util.datatype import datatype


@datatype(frozen=True)
class CoordinatorHandler:
    """``API`` is served by ``operation`` of the coordinator that ``runtime`` names on the
    broker (``"groups"`` or ``"txns"``)."""

    API: Api
    runtime: str
    operation: str

    def handle(self, ctx: RequestContext, req: Any) -> Any:
        runtime = getattr(ctx.broker, self.runtime)
        op = getattr(runtime.coordinator, self.operation)
        return runtime.call(lambda token: op(req, ctx.version, token))
