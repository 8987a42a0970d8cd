"""The HTTP edge: /graphql (credentials, size limit, deadline, then Strawberry), health, metrics.

Credential errors are answered here as JSON GraphQL errors with their HTTP status, before any
parsing or execution; Strawberry's own `get_context` would turn them into plain text.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from citizen_graph import calls
from citizen_graph.auth.audit import AuditLog, audit_record
from citizen_graph.auth.credentials import (
    Caller,
    Credentials,
    carries_identifier,
)
from citizen_graph.auth.policy import Policy
from citizen_graph.auth.refusals import record_refusal
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
from citizen_graph.records import CitizenKey
from citizen_graph.resolvers.loaders import Loaders
from citizen_graph.schema import CitizenSchema
from citizen_graph.schema.errors import contract_error, schema_names
from citizen_graph.schema.subjects import SubjectReader
from citizen_graph.settings import Settings
from citizen_graph.telemetry import Metrics

ANONYMOUS = Caller("anonymous", "", "", (), None)
INTERNAL_AUDIT: dict[str, Any] = {
    "message": "The request could not be recorded in the audit trail; nothing was served.",
    "extensions": {"code": "INTERNAL"},
}
logger = logging.getLogger("citizen_graph.views")
MAX_ERRORS = 10  # pre-execution errors reported for one document
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
    subjects: SubjectReader


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
        self.names = schema_names(services.schema._schema)  # kept in error messages

    def decode_json(self, data: str | bytes) -> object:
        """A JSON object (or an array, which Strawberry refuses as batching), or 400."""
        try:
            body = json.loads(data)
            # A lone surrogate ("\ud800") decodes, then fails wherever it is written.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise HTTPException(400, "The request body is nested too deeply.") from None
        except UnicodeError:
            raise HTTPException(400, "The request body is not UTF-8 text.") from None
        if not isinstance(body, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return body

    async def process_result(
        self, request: Any, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = _bounded_errors(
                [contract_error(error, self.names) for error in result.errors]
            )
        context: Context | None = request.scope.get("citizen_graph.context")
        if context is not None and _refused_before_execution(context, result):
            code = ((result.errors or [GraphQLError("")])[0].extensions or {}).get(
                "code", "INTERNAL"
            )
            await record_refusal(
                self.services.audit,
                request.scope,
                caller=context.caller,
                code=str(code),
                http_status=200,
                subjects=context.subjects,
            )
        elif context is not None and context.subjects:
            try:
                await self._audit(request, context, result)
                request.scope["citizen_graph.audited"] = True
            except OSError:
                # Fail closed: citizen data is never served untraced.
                logger.exception("audit record could not be written")
                return {"data": None, "errors": [INTERNAL_AUDIT]}
        return await super().process_result(request, result)

    async def _audit(
        self, request: Any, context: Context, result: ExecutionResult
    ) -> None:
        """Written before the response is sent, for every request that touched a citizen."""
        scope = calls.current_scope()
        decision = context.decision
        await self.services.audit.append(
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
            limits=services.settings.limits,
            policy=services.policy,
            subject_reader=services.subjects,
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
            await self._not_post(request, scope, receive, send)
            return
        started = time.monotonic()
        scope["citizen_graph.started"] = started
        caller: Caller | None = None
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
            client = (
                None if caller else self.services.credentials.identify(request.headers)
            )
            await record_refusal(
                self.services.audit,
                scope,
                caller=caller,
                client=client,
                code=error.code,
                http_status=error.http_status,
                purpose_given=bool(request.headers.get("x-purpose")),
            )
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
                logger.warning(
                    "request refused before parsing", extra={"status": status}
                )
                await record_refusal(
                    self.services.audit,
                    scope,
                    caller=caller,
                    code=error.code,
                    http_status=status,
                )
                await _error_response(error, status)(scope, receive, send)
                return
            await send(message)

        with calls.request_scope(
            self.services.settings.server.request_deadline_s,
            scope.get("citizen_graph.request_id", ""),
            # Circuits count organisations: two keys of one body are one witness.
            client=caller.recipient,
        ) as rs:
            try:
                await self.view(scope, receive, send_json)
            except _BodyTooLarge:
                status = 413
                too_large = QueryTooComplex("The request body is too large.")
                await record_refusal(
                    self.services.audit,
                    scope,
                    caller=caller,
                    code=too_large.code,
                    http_status=status,
                )
                await _error_response(too_large)(scope, receive, send)
            except Exception:
                logger.exception("request failed unexpectedly")
                status = 500
                if not scope.get("citizen_graph.audited"):
                    await record_refusal(
                        self.services.audit,
                        scope,
                        caller=caller,
                        code="INTERNAL",
                        http_status=status,
                        subjects=_context_subjects(scope),
                    )
                await _error_response(CitizenGraphError())(scope, receive, send)
        self.services.metrics.observe_request(
            status, time.monotonic() - started, rs.calls
        )

    async def _not_post(
        self, request: Request, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """GET serves GraphiQL to browsers; anything else is refused, and recorded."""
        html = "text/html" in request.headers.get("accept", "")
        if request.method == "GET" and html and "query" not in request.query_params:
            await self.view(scope, receive, send)
            return
        error = BadUserInput("Send GraphQL requests as POST with a JSON body.")
        await record_refusal(
            self.services.audit,
            scope,
            caller=None,
            client=self.services.credentials.identify(request.headers),
            code=error.code,
            http_status=405,
        )
        response = _error_response(error, 405)
        response.headers["Allow"] = "GET, POST"
        await response(scope, receive, send)
        self.services.metrics.observe_request(405, 0.0, ())


def _refused_before_execution(context: Context, result: ExecutionResult) -> bool:
    """Parse, validation, limits or variables refused it: no resolver ran."""
    if not result.errors or result.data is not None:
        return False
    decision = context.decision
    return decision is None or not decision.complete or decision.refused


def _context_subjects(scope: Scope) -> list[CitizenKey]:
    context: Context | None = scope.get("citizen_graph.context")
    return context.subjects if context is not None else []


def _bounded_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """A bad document gets a bounded answer (graphql-core stops at 100 errors itself)."""
    if len(errors) <= MAX_ERRORS or any(e.path for e in errors):
        return errors
    summary = BadUserInput(f"Too many errors: only the first {MAX_ERRORS} are shown.")
    return [
        *errors[:MAX_ERRORS],
        GraphQLError(summary.message, extensions=summary.extensions),
    ]


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
        # A client's id goes to logs, the audit and upstreams: never one carrying an
        # identifier (a fiscal number as a request id).
        safe = REQUEST_ID.fullmatch(given) and not carries_identifier(given)
        request_id = given if safe else str(uuid.uuid4())
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
    clients = services.connectors.open_client_circuits()
    body = {
        "status": "ready",
        "upstreams": {
            source: {"circuit": state, "clients_open": clients.get(source, 0)}
            for source, state in circuits.items()
        },
    }
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    text = services.metrics.render(
        services.connectors.circuit_states(),
        services.connectors.open_client_circuits(),
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
