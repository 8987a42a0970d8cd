"""Who is calling: the credential, the declared role, the purpose the role may require.

An agent's token whose signing key is not at hand is verified on a worker thread: the JWKS
fetch it may need blocks, and must not hold the event loop.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from citizen_graph import request_scope
from citizen_graph.auth.credentials import Credentials
from citizen_graph.auth.policy import Policy
from citizen_graph.errors import PurposeRequired


class Authentication:
    def __init__(self, app: ASGIApp, credentials: Credentials, policy: Policy) -> None:
        self.app = app
        self.credentials = credentials
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if self.credentials.may_fetch(headers):
            caller = await asyncio.to_thread(self.credentials.authenticate, headers)
        else:
            caller = self.credentials.authenticate(headers)
        if self.policy.role(caller.role).purpose_required and not caller.purpose:
            raise PurposeRequired
        scope["citizen_graph.caller"] = caller
        journal = request_scope.current_scope()
        if journal is not None:
            # Circuits count organisations: two keys of one body are one witness.
            journal.client = caller.recipient
        await self.app(scope, receive, send)
