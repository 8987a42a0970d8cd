"""Take a safe X-Request-Id or make one; echo it on the response.

Bound for the whole request from here on, so that every line it logs carries it, the
refusals and uvicorn's access line included."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizen_graph import request_scope
from citizen_graph.identifiers import carries_identifier

REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestIdMiddleware:
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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with request_scope.bound_request_id(request_id):
            await self.app(scope, receive, send_with_id)
