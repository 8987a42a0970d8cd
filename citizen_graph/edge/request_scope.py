"""Open the request's scope (deadline, journal of upstream calls) and count the request."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizen_graph import request_scope
from citizen_graph.metrics import Metrics


class RequestScope:
    def __init__(self, app: ASGIApp, deadline_s: float, metrics: Metrics) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        status = 500  # if nothing is ever sent

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with request_scope.open_scope(self.deadline_s):
            try:
                await self.app(scope, receive, send_counted)
            finally:
                self.metrics.request(status, time.monotonic() - started)
