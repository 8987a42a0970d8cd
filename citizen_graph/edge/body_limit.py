"""At most `limit` bytes of body: the declared length first, then what is actually read."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizen_graph.errors import QueryTooComplex

TOO_LARGE = "The request body is too large."


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.limit
        ):
            raise QueryTooComplex(TOO_LARGE)
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise QueryTooComplex(TOO_LARGE)
            return message

        await self.app(scope, bounded_receive, send)
