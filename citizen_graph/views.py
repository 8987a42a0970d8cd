"""The GraphQL view (Strawberry's, last of the HTTP stage), and health, readiness and metrics;
the `Services` the lifespan opens.

The parts before the view (request scope, refusals, method, authentication, body limit) are in
`citizen_graph/edge/`, composed in order by `app.py`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from citizen_graph.auth.admission import Admission
from citizen_graph.auth.audit import AuditLog
from citizen_graph.auth.clients import Caller
from citizen_graph.auth.credentials import Credentials
from citizen_graph.auth.introspection import SchemaViews
from citizen_graph.auth.policy import Policy
from citizen_graph.auth.quotas import Quotas
from citizen_graph.auth.refusals import record_refusal
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import CITIZEN_KEYS, Connectors
from citizen_graph.context import Context
from citizen_graph.edge.methods import wants_ide
from citizen_graph.errors import CitizenGraphError
from citizen_graph.graphiql import graphiql_page
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.metrics import Metrics
from citizen_graph.persisted import PersistedQueries
from citizen_graph.resolvers.loaders import Loaders
from citizen_graph.schema import CitizenSchema
from citizen_graph.schema.errors import contract_error, schema_names
from citizen_graph.schema.subjects import SubjectReader
from citizen_graph.settings import Settings
from citizen_graph.shared.state import SharedState
from citizen_graph.tracing import Tracing

ANONYMOUS = Caller("anonymous", "", "", (), None)
logger = logging.getLogger("citizen_graph.views")


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
    admission: Admission
    quotas: Quotas
    tracing: Tracing
    persisted: PersistedQueries
    shared: SharedState | None = None  # [redis] url: the state shared between processes


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view; the context is built per request with fresh loaders."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            services.schema,
            graphql_ide="graphiql" if services.settings.server.graphiql else None,
            # Queries over GET only by a persisted query's hash: edge/methods.py refuses a
            # GET carrying a document.
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
        )
        self.services = services
        self.names = schema_names(services.schema._schema)  # kept in error messages
        self.views = SchemaViews(
            services.schema._schema, services.schema.as_str(), services.policy
        )

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
        except json.JSONDecodeError:
            raise  # Strawberry's own 400
        except ValueError:  # an integer past Python's 4300 digits, in a body or a GET
            raise HTTPException(
                400, "A number in the request has too many digits."
            ) from None
        if not isinstance(body, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return body

    async def process_result(
        self, request: Any, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The GraphQL stage (schema/__init__.py) maps and audits every result; an error
        # raised by an extension itself bypasses it, and is masked here.
        if result.errors and any(
            "code" not in (error.extensions or {}) for error in result.errors
        ):
            result.errors = [
                contract_error(error, self.names) for error in result.errors
            ]
        return await super().process_result(request, result)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """The rule edge/methods.py routes by: a GET carrying a persisted query's hash is
        run, whatever its Accept header."""
        return wants_ide(request.method, request.query_params, request.headers)

    async def render_graphql_ide(self, request: Any) -> Response:
        """GraphiQL from the gateway itself (citizen_graph/graphiql/), no CDN; the README's
        example and the demo headers prefilled in sandbox mode."""
        return graphiql_page(sandbox=self.services.settings.sandbox.demo_keys)

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """The persisted-operation protocols (persisted.py) before Strawberry's execution:
        a refusal touches no citizen, so it is answered here, outside the GraphQL stage,
        and recorded here (an unknown hash too: probing hashes is enumeration)."""
        try:
            query = await self.services.persisted.resolve(
                request_data.query,
                request_data.extensions,
                client=context.caller.client_id,
                trusted=context.caller.documents,
            )
        except CitizenGraphError as refusal:
            sub_response.status_code = refusal.http_status
            await record_refusal(
                context.audit,
                caller=context.caller,
                code=refusal.code,
                http_status=refusal.http_status,
            )
            error = GraphQLError(refusal.message, extensions=refusal.extensions)
            return ExecutionResult(data=None, errors=[error])
        if query is not request_data.query:
            request_data = replace(request_data, query=query)
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def get_context(self, request: Any, response: Any) -> Context:
        services = self.services
        # Every request that reaches execution has a caller (edge/authentication.py); the
        # GraphiQL page, which runs nothing, has none.
        caller: Caller = request.scope.get("citizen_graph.caller", ANONYMOUS)
        context = Context(
            caller=caller,
            loaders=Loaders(services.connectors, services.cache, caller.access),
            ids=services.ids,
            limits=services.settings.limits,
            policy=services.policy,
            views=self.views,
            subject_reader=services.subjects,
            audit=services.audit,
            admission=services.admission,
            quotas=services.quotas,
            metrics=services.metrics,
            tracer=services.tracing.tracer,
            keys=CITIZEN_KEYS,
            response=response,
        )
        request.scope["citizen_graph.context"] = context
        return context


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
        "redis": services.shared.status if services.shared is not None else "off",
        "upstreams": {
            source: {"circuit": state, "clients_open": clients.get(source, 0)}
            for source, state in circuits.items()
        },
    }
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    refresh_states(services)
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def refresh_states(services: Services) -> None:
    """This process's circuits and Redis into the metrics' gauges."""
    services.metrics.state(
        services.connectors.circuit_states(),
        services.connectors.open_client_circuits(),
        services.shared.status if services.shared is not None else None,
    )
