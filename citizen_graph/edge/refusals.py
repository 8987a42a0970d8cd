"""Every HTTP-level refusal as the contract's JSON body, with its audit record.

A part further in refuses a request by raising the project's error before the response has
started; Strawberry's own plain-text answers (bad JSON, no query, batching) are rewritten as
BAD_USER_INPUT; anything unexpected is INTERNAL (HTTP 500), logged with its traceback but
never the query or the variables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizen_graph import request_scope
from citizen_graph.auth.audit import AuditLog
from citizen_graph.auth.credentials import Credentials
from citizen_graph.auth.refusals import record_refusal
from citizen_graph.errors import BadUserInput, CitizenGraphError

if TYPE_CHECKING:  # at run time this import would close a cycle through the schema
    from citizen_graph.context import Context

logger = logging.getLogger("citizen_graph.edge")


def error_response(error: CitizenGraphError, status: int | None = None) -> Response:
    body = {
        "data": None,
        "errors": [{"message": error.message, "extensions": error.extensions}],
    }
    response = JSONResponse(body, status_code=status or error.http_status)
    if (status or error.http_status) == 405:
        response.headers["Allow"] = "GET, POST"
    return response


class Refusals:
    def __init__(self, app: ASGIApp, audit: AuditLog, credentials: Credentials) -> None:
        self.app = app
        self.audit = audit
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        plain_text: Message | None = None

        async def send_json(message: Message) -> None:
            nonlocal started, plain_text
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(
                    b"content-type", b""
                )
                if message["status"] >= 400 and content_type.startswith(b"text/plain"):
                    plain_text = message
                    return
                started = True
            elif plain_text is not None:
                status = plain_text["status"]
                logger.warning(
                    "request refused before parsing", extra={"status": status}
                )
                error = BadUserInput(_reason(message.get("body", b"")))
                await self._refuse(error, scope, receive, send, status)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_json)
        except CitizenGraphError as error:
            if started:
                raise
            await self._refuse(error, scope, receive, send)
        except Exception:
            logger.exception("request failed unexpectedly")
            if started:
                raise
            await self._refuse(CitizenGraphError(), scope, receive, send)

    async def _refuse(
        self,
        error: CitizenGraphError,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int | None = None,
    ) -> None:
        journal = request_scope.current_scope()
        if journal is None or not journal.audited:
            headers = Headers(scope=scope)
            caller = scope.get("citizen_graph.caller")
            proved = None if caller else self.credentials.identify(headers)
            context: Context | None = scope.get("citizen_graph.context")
            await record_refusal(
                self.audit,
                caller=caller,
                client=proved.client if proved else None,
                agent=proved.agent if proved else None,
                code=error.code,
                http_status=status or error.http_status,
                subjects=context.subjects if context is not None else (),
                purpose_given=bool(headers.get("x-purpose")),
            )
        await error_response(error, status)(scope, receive, send)


def _reason(body: bytes) -> str:
    """Strawberry's own reason, when short and free of input values."""
    text = body.decode("utf-8", "replace").strip()
    if not text or len(text) > 120 or '"' in text:
        return "The request is not a valid GraphQL request."
    return text if text.endswith(".") else text + "."
