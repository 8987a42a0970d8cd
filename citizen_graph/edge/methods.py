"""POST runs queries; GET runs a persisted query by its hash (or registers it, the query
beside its hash, as Apollo's protocol allows), or serves GraphiQL to browsers; anything else,
a GET carrying a document without a hash included, is refused (405, the contract's JSON
body). The access log never writes a query string (telemetry.py)."""

from __future__ import annotations

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from citizen_graph.errors import MethodNotAllowed

QUERY_OVER_GET = (
    "Queries over GET are refused (a URL is kept in logs): POST them, or send a "
    "persisted query's hash (extensions.persistedQuery) with or instead of them."
)


class Methods:
    def __init__(self, app: ASGIApp, ide: ASGIApp) -> None:
        self.app = app
        self.ide = ide  # the view, for the GraphiQL page only: it needs no credential

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            params = QueryParams(scope.get("query_string", b""))
            if "extensions" in params:
                # A hash (the credential is checked next); with its query too, the APQ
                # registration clients such as urql retry over GET, which the view
                # accepts only when the hash is the query's (persisted.py).
                await self.app(scope, receive, send)
                return
            if "query" in params:
                raise MethodNotAllowed(QUERY_OVER_GET)
            if "text/html" in Headers(scope=scope).get("accept", ""):
                await self.ide(scope, receive, send)
                return
        raise MethodNotAllowed
