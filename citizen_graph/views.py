"""The GraphQL view (Strawberry's, last of the HTTP stage), its audit write, and health,
readiness and metrics; the `Services` the lifespan opens.

The parts before the view (request scope, refusals, method, authentication, body limit) are in
`citizen_graph/edge/`, composed in order by `app.py`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from citizen_graph import request_scope
from citizen_graph.auth.audit import AuditLog, audit_record
from citizen_graph.auth.credentials import (
    Caller,
    Credentials,
)
from citizen_graph.auth.policy import Policy
from citizen_graph.auth.refusals import record_refusal
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import Connectors
from citizen_graph.context import Context
from citizen_graph.errors import (
    BadUserInput,
)
from citizen_graph.ids import CitizenIdCodec
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
            # A lone surrogate ("\ud800") decodes, then fails wherever it is written; in
            # UTF-8 bytes it can only arrive as an escape, so most bodies skip the check.
            if not isinstance(data, bytes) or b"\\u" in data:
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
        scope = request_scope.current_scope()
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


def _refused_before_execution(context: Context, result: ExecutionResult) -> bool:
    """Parse, validation, limits or variables refused it: no resolver ran."""
    if not result.errors or result.data is not None:
        return False
    decision = context.decision
    return decision is None or not decision.complete or decision.refused


def _bounded_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """A bad document gets a bounded answer (graphql-core stops at 100 errors itself)."""
    if len(errors) <= MAX_ERRORS or any(e.path for e in errors):
        return errors
    summary = BadUserInput(f"Too many errors: only the first {MAX_ERRORS} are shown.")
    return [
        *errors[:MAX_ERRORS],
        GraphQLError(summary.message, extensions=summary.extensions),
    ]


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
