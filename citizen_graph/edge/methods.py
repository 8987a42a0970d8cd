"""POST runs queries; GET serves GraphiQL to browsers; anything else is refused (405)."""

from __future__ import annotations

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from citizen_graph.errors import MethodNotAllowed


class Methods:
    def __init__(self, app: ASGIApp, ide: ASGIApp) -> None:
        self.app = app
        self.ide = ide  # the view, for the GraphiQL page only: it needs no credential

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            await self.app(scope, receive, send)
            return
        html = "text/html" in Headers(scope=scope).get("accept", "")
        query = "query" in QueryParams(scope.get("query_string", b""))
        if scope["method"] == "GET" and html and not query:
            await self.ide(scope, receive, send)
            return
        raise MethodNotAllowed
