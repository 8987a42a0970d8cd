"""One audit record per request refused before execution, wherever it was refused.

The HTTP edge (credentials, purpose, body, method) and the GraphQL stage (parse, validation,
limits, the decision's limits) both call `record_refusal`, so probing and enumeration leave a
trace: who (when known), what code and status, the citizens asked for when they were counted;
never the query, the variables or a refused purpose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from citizen_graph import request_scope
from citizen_graph.auth.audit import AuditLog, refusal_record
from citizen_graph.auth.clients import Caller, Client
from citizen_graph.records import CitizenKey

logger = logging.getLogger("citizen_graph.audit")


async def record_refusal(
    audit: AuditLog,
    *,
    caller: Caller | None,
    code: str,
    http_status: int,
    client: Client | None = None,
    subjects: Iterable[CitizenKey] = (),
    purpose_given: bool = False,
    agent: str | None = None,
) -> None:
    """One audit record per request refused before execution: probing leaves a trace.

    Without a caller, `client` and `agent` are what the request's credential proved
    (`Credentials.identify`). The refusal is answered whatever happens here: it serves no
    data, so a failed write is logged rather than turned into another error.
    """
    scope = request_scope.current_scope()
    started = scope.started if scope else time.monotonic()
    # client, SIRET, role, agent: an agent is only ever recorded with the client it proved
    who: tuple[str | None, ...] = (None, None, None, None)
    if caller is not None:
        who = (caller.client_id, caller.recipient, caller.role, caller.agent)
    elif client is not None:
        who = (client.client_id, client.recipient, None, agent)
    client_id, recipient, role, agent = who
    try:
        await audit.append(
            refusal_record(
                request_id=request_scope.request_id(),
                client_id=client_id,
                recipient=recipient,
                role=role,
                purpose=caller.purpose if caller else None,
                agent=agent,
                purpose_given=purpose_given,
                operation=None,
                code=code,
                http_status=http_status,
                subjects=subjects,
                hasher=audit.hasher,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
                habilitation=(caller.access.habilitation or None) if caller else None,
            )
        )
        if scope is not None:
            scope.audited = True
    except OSError:
        logger.exception("audit record of a refusal could not be written")
