"""One span per request (only when tracing is on): its parent the caller's W3C
`traceparent` (never its `tracestate`), its attributes the method, the route, the status,
the request id and, once authenticated, the client's, role's and habilitation's public
names; never the query string, the body, or a header's value."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, use_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizen_graph import request_scope
from citizen_graph.tracing import parent_of


class Traced:
    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `traceparent` only: a caller's `tracestate` is free text, exported on every
        # span as it is (it could carry an identifier).
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name == b"traceparent"
        }
        method = scope.get("method", "")
        span = self.tracer.start_span(
            f"{method} /graphql",
            context=parent_of(headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": "/graphql",
                "citizen_graph.request_id": request_scope.request_id(),
            },
        )

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            await send(message)

        with use_span(span, end_on_exit=True, record_exception=False):
            try:
                await self.app(scope, receive, send_traced)
            finally:
                _caller(span, scope.get("citizen_graph.caller"))


def _caller(span: Any, caller: Any) -> None:
    if caller is None:
        return
    span.set_attribute("citizen_graph.client_id", caller.client_id)
    span.set_attribute("citizen_graph.role", caller.role)
    habilitation = caller.access.habilitation
    if habilitation:
        span.set_attribute("citizen_graph.habilitation", habilitation)
