"""RecordAccess: the GraphQL stage's audit part, outermost, after the contract's errors.

It receives the decision (operation, citizens, permitted and denied fields) from the context,
the journal of upstream calls from the request's scope, and the error codes from the result,
and writes one record before the response is sent: an access record for every request that
touched a citizen, a refusal record for a document refused before execution. A failed write
fails closed: the answer becomes INTERNAL and no data leaves.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from citizen_graph import request_scope
from citizen_graph.auth.audit import audit_record
from citizen_graph.auth.refusals import record_refusal

if TYPE_CHECKING:  # at run time this import would close a cycle through the schema
    from citizen_graph.context import Context

logger = logging.getLogger("citizen_graph.audit")
UNRECORDED = "The request could not be recorded in the audit trail; nothing was served."


class RecordAccess(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context: Context = self.execution_context.context
        result = self.execution_context.result
        if result is None:
            return
        codes = [_code(error) for error in result.errors or []]
        if _refused_before_execution(context, result):
            await record_refusal(
                context.audit,
                caller=context.caller,
                code=(codes[0] if codes else None) or "INTERNAL",
                http_status=context.response.status_code or 200,
                subjects=context.subjects,
            )
        elif context.subjects:
            try:
                await _record_access(context, codes)
            except OSError:
                # Fail closed: citizen data is never served untraced.
                logger.exception("audit record could not be written")
                result.data = None
                result.errors = [
                    GraphQLError(UNRECORDED, extensions={"code": "INTERNAL"})
                ]


async def _record_access(context: Context, codes: list[str | None]) -> None:
    scope = request_scope.current_scope()
    decision = context.decision
    await context.audit.append(
        audit_record(
            context.audit.hasher,
            request_id=request_scope.request_id(),
            caller=context.caller,
            operation=decision.operation if decision else None,
            subjects=context.subjects,
            allowed=decision.allowed if decision else set(),
            denied=decision.denied if decision else set(),
            calls=scope.calls if scope else [],
            error_codes=codes,
            duration_ms=scope.elapsed_ms() if scope else 0.0,
        )
    )
    if scope is not None:
        scope.audited = True


def _code(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return str(code) if code is not None else None


def _refused_before_execution(context: Context, result: Any) -> bool:
    """Parse, validation, limits or variables refused it: no resolver ran."""
    if not result.errors or result.data is not None:
        return False
    decision = context.decision
    return decision is None or not decision.complete or decision.refused
