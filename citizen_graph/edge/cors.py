"""CORS for the deployments whose browser front-end uses agents' tokens: Starlette's
middleware with exact origins and no cookies, a refused preflight answered with the
contract's JSON body."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from citizen_graph.edge.refusals import error_response
from citizen_graph.errors import BadUserInput

# What a browser may send besides Authorization and Content-Type: never `tracestate`,
# which the gateway ignores (edge/tracing.py).
HEADERS = ("X-Role", "X-Purpose", "X-Request-Id", "traceparent")


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", *HEADERS],
            expose_headers=["X-Request-Id"],
            allow_credentials=False,
            max_age=600,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code < 400:
            return answer
        # Starlette's own reason ("Disallowed CORS origin, headers"), as JSON.
        reason = bytes(answer.body).decode("ascii", "replace")
        return error_response(BadUserInput(reason + "."), answer.status_code)
