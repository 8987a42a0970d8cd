"""create_app(settings) → Starlette: the only place where the parts meet.

The lifespan starts the embedded sandbox (sandbox mode), opens one client per upstream, builds
the cache, schema and credentials, and closes everything on shutdown.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExporter
from starlette.applications import Starlette
from starlette.datastructures import Secret
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from citizen_graph.auth.admission import Admission
from citizen_graph.auth.agents import agent_tokens
from citizen_graph.auth.audit import AuditConfig, AuditLog
from citizen_graph.auth.clients import Client
from citizen_graph.auth.credentials import (
    ClientsError,
    Credentials,
    load_clients,
)
from citizen_graph.auth.demo_keys import DEMO_KEYS, demo_client
from citizen_graph.auth.habilitations import Habilitation, habilitation
from citizen_graph.auth.policy import Policy, PolicyError, load_policy
from citizen_graph.auth.quotas import QuotaBook, Quotas
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import (
    UPSTREAMS,
    mint_sandbox_credentials,
    open_connectors,
    point_at_sandbox,
)
from citizen_graph.edge.authentication import Authentication
from citizen_graph.edge.body_limit import BodyLimit
from citizen_graph.edge.cors import Cors
from citizen_graph.edge.methods import Methods
from citizen_graph.edge.refusals import Refusals, error_response
from citizen_graph.edge.request_id import RequestIdMiddleware
from citizen_graph.edge.request_scope import RequestScope
from citizen_graph.edge.tracing import Traced
from citizen_graph.errors import BadUserInput
from citizen_graph.graphiql import GraphiQLAssets
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.metrics import Metrics
from citizen_graph.persisted import PersistedQueries
from citizen_graph.sandbox import create_sandbox_app
from citizen_graph.schema import CitizenSchema, build_schema
from citizen_graph.schema.subjects import SubjectReader
from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import (
    Settings,
    SettingsError,
    environment,
    settings_from_environment,
)
from citizen_graph.shared.setup import check_shared, open_shared, share
from citizen_graph.tracing import Tracing
from citizen_graph.views import (
    GraphQLView,
    Services,
    healthz,
    metrics,
    readyz,
    refresh_states,
)

SANDBOX_ID_SECRET = "citizen-graph-sandbox-id-secret"  # sandbox mode only
SANDBOX_AUDIT_SECRET = "citizen-graph-sandbox-audit-secret"  # sandbox mode only
SANDBOX_CHAIN_SECRET = "citizen-graph-sandbox-audit-chain-secret"  # sandbox mode only
SANDBOX_REDIS_KEY = "citizen-graph-sandbox-redis-key"  # sandbox mode only
STATES_EVERY_S = 1.0
NO_ROUTE = "No such path: GraphQL is served at /graphql."


class _LateEndpoint:
    """The /graphql ASGI app, which only exists once the lifespan has opened the services."""

    def __init__(self) -> None:
        self.endpoint: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.endpoint is not None, "the lifespan has not run"
        await self.endpoint(scope, receive, send)


def create_app(
    settings: Settings, span_exporter: SpanExporter | None = None
) -> Starlette:
    """`span_exporter`: where spans go instead of `[tracing] endpoint` (tests)."""
    graphql = _LateEndpoint()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            effective = settings
            if settings.sandbox.enabled:
                effective = await _with_sandbox(settings, stack)
            _check(effective)
            schema = build_schema(effective.limits)
            policy = _policy(schema, effective)
            clients = await _clients(effective, policy)
            credentials = Credentials(
                clients, agent_tokens(effective), policy.composing_roles()
            )
            audit = AuditLog(_audit_config(effective))
            stack.callback(audit.close)  # the shutdown seal
            connectors = await stack.enter_async_context(open_connectors(effective))
            metrics = Metrics(multiprocess=effective.server.workers > 1)
            tracing = Tracing(effective.tracing, span_exporter)
            stack.callback(tracing.shutdown)  # the last spans are exported
            for client in connectors.clients:
                client.observe(metrics)
                if tracing.tracer is not None:
                    client.trace(tracing.tracer)
            shared = await open_shared(effective, SANDBOX_REDIS_KEY, stack)
            quotas: Quotas
            if shared is None:
                cache = UpstreamCache(effective.cache, on_lookup=metrics.cache_lookup)
                quotas = QuotaBook()
            else:
                cache, quotas = share(
                    effective, shared, connectors, metrics.cache_lookup
                )
            ids = CitizenIdCodec(str(effective.server.id_secret))
            services = Services(
                settings=effective,
                schema=schema,
                connectors=connectors,
                cache=cache,
                credentials=credentials,
                ids=ids,
                policy=policy,
                audit=audit,
                metrics=metrics,
                subjects=SubjectReader(ids),
                admission=Admission(connectors, effective.server.request_deadline_s),
                quotas=quotas,
                tracing=tracing,
                persisted=PersistedQueries(shared),
                shared=shared,
            )
            graphql.endpoint = http_stage(services)
            app.state.services = services
            refreshing = asyncio.create_task(_refresh_states(services))
            stack.callback(refreshing.cancel)
            yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql),  # every method: refusals get the JSON body
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/graphiql/{asset}", GraphiQLAssets()),  # GraphiQL's, vendored
        ],
        middleware=[Middleware(RequestIdMiddleware), *_cors(settings)],
        exception_handlers={404: _no_route},
        lifespan=lifespan,
    )
    # `/graphql/` is no route: a redirect would be built from the caller's Host header.
    app.router.redirect_slashes = False
    return app


async def _no_route(request: Request, exc: Exception) -> Response:
    return error_response(BadUserInput(NO_ROUTE), 404)


async def _refresh_states(services: Services) -> None:
    """Every second, this process's circuits and Redis into the gauges: with workers,
    `/metrics` reads every worker's, whichever answers the scrape."""
    while True:
        refresh_states(services)
        await asyncio.sleep(STATES_EVERY_S)


def _cors(settings: Settings) -> list[Middleware]:
    """None by default: API keys are server-side secrets, and API Particulier's terms
    forbid calling it from a browser; an allow-list for front-ends using agents' tokens."""
    origins = settings.server.origins
    return [Middleware(Cors, origins=origins)] if origins else []


def http_stage(services: Services) -> ASGIApp:
    """The /graphql request path: its parts outermost first, Strawberry's view last.

    Each part refuses by raising the project's error, which `Refusals` answers as JSON and
    records in the audit; the GraphQL stage (limits, the decision, contract errors, the
    audit of what was read) runs inside the view.
    """
    server = services.settings.server
    view = GraphQLView(services)
    tracer = services.tracing.tracer
    traced: list[Callable[[ASGIApp], ASGIApp]] = (
        [] if tracer is None else [lambda app: Traced(app, tracer)]
    )
    parts: list[Callable[[ASGIApp], ASGIApp]] = [
        *traced,
        lambda app: RequestScope(app, server.request_deadline_s, services.metrics),
        lambda app: Refusals(app, services.audit, services.credentials),
        lambda app: Methods(app, ide=view),
        lambda app: Authentication(app, services.credentials, services.policy),
        lambda app: BodyLimit(app, server.max_body_bytes),
    ]
    app: ASGIApp = view
    for part in reversed(parts):
        app = part(app)
    return app


async def _with_sandbox(settings: Settings, stack: AsyncExitStack) -> Settings:
    """Point every connector at the sandbox (embedded unless a URL is given)."""
    url = settings.sandbox.url.rstrip("/")
    if not url:
        sandbox = await asyncio.to_thread(
            create_sandbox_app, latency=settings.sandbox.latency
        )
        server = ThreadedServer(sandbox, settings.sandbox.host, settings.sandbox.port)
        await asyncio.to_thread(server.start)
        stack.callback(server.stop)
        url = server.url
    settings = point_at_sandbox(settings, url)
    settings = replace(settings, sandbox=replace(settings.sandbox, url=url))
    if not str(settings.server.id_secret):
        ids = replace(settings.server, id_secret=Secret(SANDBOX_ID_SECRET))
        settings = replace(settings, server=ids)
    return settings


def _policy(schema: CitizenSchema, settings: Settings) -> Policy:
    path = Path(settings.auth.policy_file) if settings.auth.policy_file else None
    try:
        return load_policy(schema._schema, path)
    except PolicyError as error:
        raise SettingsError(f"policy: {error}") from None


async def _clients(settings: Settings, policy: Policy) -> list[Client]:
    """Sandbox mode without a config: the demo keys and nothing else; else the clients file."""
    if not settings.sandbox.demo_keys:
        return _configured_clients(settings, policy)
    # Replicas sharing a Redis act as one gateway: the same demo credentials.
    shared_as = settings.redis.prefix if settings.redis.url else None
    return await _demo_clients(
        settings.sandbox.url, settings.sandbox.demo_quota, shared_as
    )


def _configured_clients(settings: Settings, policy: Policy) -> list[Client]:
    if not settings.auth.clients_file:
        raise SettingsError("auth.clients_file is required outside sandbox mode")
    return read_clients(Path(settings.auth.clients_file), policy)


def preflight(settings: Settings) -> None:
    """What start-up would refuse, checked by `serve` before any server starts: the
    operator reads one line naming the setting, not a traceback from the lifespan."""
    if not settings.sandbox.enabled:
        _check(settings)
    policy = _policy(build_schema(settings.limits), settings)
    if not settings.sandbox.demo_keys:
        _configured_clients(settings, policy)
    _audit_config(settings)
    if not settings.sandbox.demo_keys:  # else the sandbox's, known once it runs
        agent_tokens(settings)
    check_shared(settings)


def read_clients(path: Path, policy: Policy) -> list[Client]:
    """The clients file, checked against the policy (also `citizen-graph clients check`)."""
    try:
        clients = load_clients(path, environment())
    except ClientsError as error:
        raise SettingsError(f"clients: {error}") from None
    for client in clients:
        unknown = [role for role in client.roles if role not in policy.roles]
        if unknown:
            raise SettingsError(
                f"client {client.client_id!r}: unknown role {unknown[0]!r}"
            )
    return clients


async def _demo_clients(
    sandbox_url: str, demo_quota: int, shared_as: str | None
) -> list[Client]:
    """The contract's demo keys, each with its own habilitation minted by the sandbox
    (named `shared_as` + key, so that replicas get the same, when given)."""
    minted = await mint_sandbox_credentials(
        sandbox_url,
        [
            (
                None if shared_as is None else f"{shared_as}:{key}",
                demo.api_particulier,
                demo.dgfip,
            )
            for key, demo in DEMO_KEYS.items()
        ],
    )
    clients = [
        demo_client(key, (demo_habilitation(key, token or "", dgfip),), demo_quota)
        for key, (token, dgfip) in zip(DEMO_KEYS, minted, strict=True)
    ]
    return clients


def demo_habilitation(
    key: str, token: str, dgfip: tuple[str, str] | None
) -> Habilitation:
    """A demo key's one habilitation, serving all its roles, with its minted credentials."""
    demo = DEMO_KEYS[key]
    return habilitation(
        demo.recipient,
        demo.client_id(key) + "-habilitation",
        "Démonstration (sandbox)",
        demo.roles,
        api_particulier=None
        if demo.api_particulier is None
        else (token, demo.api_particulier),
        dgfip=None if demo.dgfip is None else (*(dgfip or ("", "")), demo.dgfip),
    )


def _audit_config(settings: Settings) -> AuditConfig:
    secret = str(settings.audit.secret)
    chain_secret = str(settings.audit.chain_secret)
    for name, value in (("secret", secret), ("chain_secret", chain_secret)):
        if not value and not settings.sandbox.enabled:
            raise SettingsError(f"audit.{name} is required outside sandbox mode")
    secret = secret or SANDBOX_AUDIT_SECRET
    chain_secret = chain_secret or SANDBOX_CHAIN_SECRET
    if secret == chain_secret:
        raise SettingsError("audit.chain_secret must differ from audit.secret")
    path = Path(settings.audit.file)
    if settings.server.workers > 1:  # one hash chain per worker process
        path = path.with_name(f"{path.name}.worker-{os.getpid()}")
    return AuditConfig(
        path=path,
        secret=secret,
        chain_secret=chain_secret,
        rotate_bytes=settings.audit.rotate_bytes,
        retention_days=settings.audit.retention_days,
        fsync=settings.audit.fsync,
    )


def _check(settings: Settings) -> None:
    for upstream in UPSTREAMS:
        if not upstream.settings(settings).base_url:
            raise SettingsError(
                f"{upstream.name}.base_url is required outside sandbox mode"
            )
    if not str(settings.server.id_secret):
        raise SettingsError("server.id_secret is required outside sandbox mode")


def create_app_from_environment() -> Starlette:
    """The uvicorn factory for `citizen-graph serve` (one call per worker process)."""
    return create_app(settings_from_environment())
