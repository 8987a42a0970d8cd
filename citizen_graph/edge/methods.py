"""POST runs queries; GET runs a persisted query by its hash (or registers it, the query
beside its hash, as Apollo's protocol allows), or serves GraphiQL to browsers; anything else,
a GET carrying a document without a hash included, is refused (405, the contract's JSON
body). The access log never writes a query string (telemetry.py)."""

from __future__ import annotations

import json

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from citizen_graph.errors import MethodNotAllowed

QUERY_OVER_GET = (
    "Queries over GET are refused (a URL is kept in logs): POST them, or send a "
    "persisted query's hash (extensions.persistedQuery) with or instead of them."
)


def carries_hash(params: QueryParams) -> bool:
    """Whether a GET names a persisted query (`extensions.persistedQuery`); unreadable
    extensions count, so that the view answers them 400 as it does a POST's."""
    if "extensions" not in params:
        return False
    try:
        extensions = json.loads(params["extensions"])
    except ValueError:
        return True
    return isinstance(extensions, dict) and extensions.get("persistedQuery") is not None


def wants_ide(method: str, params: QueryParams, headers: Headers) -> bool:
    """A browser asking for HTML, with nothing to run."""
    return (
        method == "GET"
        and "query" not in params
        and "extensions" not in params
        and "text/html" in headers.get("accept", "")
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
            if carries_hash(params):
                # A hash (the credential is checked next); with its query too, the APQ
                # registration clients such as urql retry over GET, which the view
                # accepts only when the hash is the query's (persisted.py).
                await self.app(scope, receive, send)
                return
            if "query" in params or "extensions" in params:
                raise MethodNotAllowed(QUERY_OVER_GET)
            if wants_ide("GET", params, Headers(scope=scope)):
                await self.ide(scope, receive, send)
                return
        raise MethodNotAllowed
