"""Query and Viewer: the table of contents of the graph."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from citizen_graph.context import Info
from citizen_graph.schema.citizen import Citizen
from citizen_graph.schema.inputs import CitizenKeyInput, PivotIdentityInput, citizen_key


@strawberry.type(description="Who the gateway thinks is calling.")
class Viewer:
    client_id: str
    recipient: str = strawberry.field(
        description="SIRET of the organisation receiving the data."
    )
    role: str
    allowed_roles: list[str]
    purpose: str | None
    readable_fields: list[str]
    agent: str | None = strawberry.field(
        description="With an agent's token (JWT): the agent's subject, as the audit records "
        "it; null with an API key."
    )


@strawberry.type
class Query:
    @strawberry.field(description="One citizen; give at least one key.")
    def citizen(
        self,
        info: Info,
        fiscal_number: str | None = None,
        identity: PivotIdentityInput | None = None,
    ) -> Citizen | None:
        return Citizen.asked(info, citizen_key(fiscal_number, identity))

    @strawberry.field(
        description="Many citizens at once (at most 100 keys), in the order of the keys; "
        "a bad key gives null at its position with a BAD_USER_INPUT error."
    )
    def citizens(self, info: Info, keys: list[CitizenKeyInput]) -> list[Citizen | None]:
        # Awaitable items let one bad key fail alone, at its own path.
        items: list[Awaitable[Citizen]] = [_citizen(info, key) for key in keys]
        return items  # type: ignore[return-value]

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        caller = info.context.caller
        return Viewer(
            client_id=caller.client_id,
            recipient=caller.recipient,
            role=caller.role,
            allowed_roles=list(caller.allowed_roles),
            purpose=caller.purpose,
            readable_fields=list(
                info.context.policy.readable_fields(caller.role, caller.uncovered)
            ),
            agent=caller.agent,
        )


async def _citizen(info: Info, key: CitizenKeyInput) -> Citizen:
    return Citizen.asked(info, key.to_record())
