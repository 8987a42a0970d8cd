"""The HTTP edge: /graphql (credentials, size limit, deadline, then Strawberry), health, metrics.

Credential errors are answered here as JSON GraphQL errors with their HTTP status, before any
parsing or execution; Strawberry's own `get_context` would turn them into plain text.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from citizen_graph import calls
from citizen_graph.auth.audit import AuditLog, audit_record
from citizen_graph.auth.credentials import Caller, Credentials
from citizen_graph.auth.policy import Policy
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import Connectors
from citizen_graph.context import Context
from citizen_graph.errors import (
    BadUserInput,
    CitizenGraphError,
    PurposeRequired,
    QueryTooComplex,
)
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.resolvers.loaders import Loaders
from citizen_graph.schema import CitizenSchema
from citizen_graph.schema.errors import contract_error
from citizen_graph.settings import Settings
from citizen_graph.telemetry import Metrics

ANONYMOUS = Caller("anonymous", "", "", (), None)
INTERNAL_AUDIT: dict[str, Any] = {
    "message": "The request could not be recorded in the audit trail; nothing was served.",
    "extensions": {"code": "INTERNAL"},
}
logger = logging.getLogger("citizen_graph.views")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@dataclass
class Services:
    """What the lifespan opens and the views use."""

    settings: Settings
    schema: CitizenSchema
    connectors: Connectors
    cache: UpstreamCache
    credentials: Credentials
    ids: CitizenIdCodec
    policy: Policy
    audit: AuditLog
    metrics: Metrics


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view; the context is built per request with fresh loaders."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            services.schema,
            graphql_ide="graphiql" if services.settings.server.graphiql else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.services = services

    async def process_result(
        self, request: Any, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [contract_error(error) for error in result.errors]
        context: Context | None = request.scope.get("citizen_graph.context")
        if context is not None and context.subjects:
            try:
                self._audit(request, context, result)
            except OSError:
                # Fail closed: citizen data is never served untraced.
                logger.exception("audit record could not be written")
                return {"data": None, "errors": [INTERNAL_AUDIT]}
        return await super().process_result(request, result)

    def _audit(self, request: Any, context: Context, result: ExecutionResult) -> None:
        """Written before the response is sent, for every request that touched a citizen."""
        scope = calls.current_scope()
        decision = context.decision
        self.services.audit.write(
            audit_record(
                self.services.audit.hasher,
                request_id=request.scope.get("citizen_graph.request_id", ""),
                caller=context.caller,
                operation=decision.operation if decision else None,
                subjects=context.subjects,
                allowed=decision.allowed if decision else set(),
                denied=decision.denied if decision else set(),
                calls=scope.calls if scope else [],
                error_codes=[
                    (e.extensions or {}).get("code") for e in result.errors or []
                ],
                duration_ms=scope.elapsed_ms() if scope else 0.0,
            )
        )

    async def get_context(self, request: Any, response: Any) -> Context:
        services = self.services
        # GET only serves GraphiQL (queries over GET are refused before execution), so it
        # runs without a caller; POST always has one (GraphQLEndpoint).
        caller: Caller = request.scope.get("citizen_graph.caller", ANONYMOUS)
        context = Context(
            caller=caller,
            loaders=Loaders(services.connectors, services.cache, caller.recipient),
            ids=services.ids,
            max_keys=services.settings.limits.max_keys,
            policy=services.policy,
        )
        request.scope["citizen_graph.context"] = context
        return context


class GraphQLEndpoint:
    """POST: authenticate, bound the body, open the deadline scope, run the GraphQL view."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.view = GraphQLView(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method != "POST":
            await self.view(scope, receive, send)  # GraphiQL for browsers, else refused
            return
        started = time.monotonic()
        try:
            caller = self.services.credentials.authenticate(request.headers)
            if (
                self.services.policy.role(caller.role).purpose_required
                and not caller.purpose
            ):
                raise PurposeRequired
            scope["citizen_graph.caller"] = caller
            receive = _bounded(
                scope, receive, self.services.settings.server.max_body_bytes
            )
        except CitizenGraphError as error:
            await _error_response(error)(scope, receive, send)
            self.services.metrics.observe_request(error.http_status, 0.0, ())
            return
        status = 200
        plain_text_error: Message | None = None

        async def send_json(message: Message) -> None:
            # Strawberry answers HTTP-level problems (bad JSON, no query, unknown
            # operation, batching) in plain text: give them the contract's JSON body.
            nonlocal status, plain_text_error
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(
                    b"content-type", b""
                )
                if status >= 400 and content_type.startswith(b"text/plain"):
                    plain_text_error = message
                    return
            elif plain_text_error is not None:
                error = BadUserInput(_reason(message.get("body", b"")))
                await _error_response(error, status)(scope, receive, send)
                return
            await send(message)

        with calls.request_scope(
            self.services.settings.server.request_deadline_s,
            scope.get("citizen_graph.request_id", ""),
        ) as rs:
            try:
                await self.view(scope, receive, send_json)
            except _BodyTooLarge:
                status = 413
                await _error_response(
                    QueryTooComplex("The request body is too large.")
                )(scope, receive, send)
            except Exception:  # e.g. a JSON body nested too deep for the parser
                logger.exception("request failed before execution")
                status = 400
                await _error_response(BadUserInput("The request could not be read."))(
                    scope, receive, send
                )
        self.services.metrics.observe_request(
            status, time.monotonic() - started, rs.calls
        )


class _BodyTooLarge(Exception):
    pass


def _reason(body: bytes) -> str:
    """Strawberry's own reason, when short and free of input values."""
    text = body.decode("utf-8", "replace").strip()
    if not text or len(text) > 120 or '"' in text:
        return "The request is not a valid GraphQL request."
    return text if text.endswith(".") else text + "."


def _bounded(scope: Scope, receive: Receive, limit: int) -> Receive:
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise QueryTooComplex("The request body is too large.")
    received = 0

    async def bounded_receive() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _BodyTooLarge
        return message

    return bounded_receive


def _error_response(error: CitizenGraphError, status: int | None = None) -> Response:
    body = {
        "data": None,
        "errors": [{"message": error.message, "extensions": error.extensions}],
    }
    return JSONResponse(body, status_code=status or error.http_status)


class RequestIdMiddleware:
    """Take a safe X-Request-Id or make one; echo it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        scope["citizen_graph.request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    # An open circuit stays 200: the gateway still answers the other fields, and taking
    # every replica out of the load balancer at once would turn a partial outage total.
    circuits = services.connectors.circuit_states()
    body = {
        "status": "ready",
        "upstreams": {source: {"circuit": state} for source, state in circuits.items()},
    }
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    text = services.metrics.render(services.connectors.circuit_states())
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
