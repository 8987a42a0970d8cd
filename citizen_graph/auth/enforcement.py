"""The one place authorization is enforced: a Strawberry extension around execution.

Before any resolver runs it takes the decision (`decision.decide`) and puts it on the context;
a request asking for more citizens, or more upstream work, than the limits allow is refused
there, whole, before any resolver or upstream call. Then, field by field, a forbidden field
raises FORBIDDEN instead of resolving and a hollow one is answered with an empty object, so
no upstream is called for data the role cannot read. Resolvers and connectors never see roles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from citizen_graph.auth.decision import Decision, decide
from citizen_graph.auth.introspection import NOT_INTROSPECTION
from citizen_graph.auth.quotas import looked_up
from citizen_graph.errors import (
    BadUserInput,
    CitizenGraphError,
    Forbidden,
    QueryTooComplex,
    RateLimited,
)
from citizen_graph.settings import LimitSettings
from citizen_graph.tracing import span


class Hollow:
    """Stands for an upstream object the role asked nothing readable of: every field is None."""

    def __getattr__(self, name: str) -> None:
        return None


HOLLOW = Hollow()


class Authorize(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context: Any = execution.context
        if execution.graphql_document is not None:
            with span(context.tracer, "authorize") as traced:
                decision = decide(
                    execution.schema._schema,
                    execution.graphql_document,
                    execution.operation_name,
                    execution.variables,
                    context.policy,
                    context.caller.role,
                    context.subject_reader,
                    context.caller.uncovered,
                    context.caller.access.habilitation or None,
                )
                if traced is not None:
                    traced.set_attributes(_decided(decision, context.caller.role))
            context.decision = decision
            refusal = _refusal(decision, context.limits)
            if refusal is not None:
                decision.refused = True
                execution.result = GraphQLExecutionResult(
                    data=None,
                    errors=[GraphQLError(refusal.message, original_error=refusal)],
                )
        yield

    def resolve(
        self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        decision = info.context.decision
        if decision is None or decision.is_total:
            return _next(root, info, *args, **kwargs)
        if decision.introspects:
            context = info.context
            answer = context.views.answer(
                info, decision.role, context.caller.uncovered, kwargs
            )
            if answer is not NOT_INTROSPECTION:
                return answer
        key = tuple(k for k in info.path.as_list() if isinstance(k, str))
        coordinate = decision.forbidden.get(key)
        if coordinate in decision.uncovered:
            raise Forbidden(
                f"The habilitation {decision.habilitation} does not cover {coordinate}."
            )
        if coordinate is not None:
            raise Forbidden(f"The role {decision.role} may not read {coordinate}.")
        if key in decision.hollow:
            return _hollow()  # hollow fields are Citizen's async, upstream-backed ones
        return _next(root, info, *args, **kwargs)


class Admit(SchemaExtension):
    """Quotas and admission, after the decision and before any resolver: a refusal is
    HTTP 429 `RATE_LIMITED` with `Retry-After`, and nothing is fetched or counted."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context: Any = execution.context
        decision: Decision | None = context.decision
        if decision is not None and decision.complete and not decision.refused:
            caller = context.caller
            reason = "admission"
            try:
                with span(context.tracer, "admit") as traced:
                    if traced is not None:
                        traced.set_attributes(
                            {
                                f"citizen_graph.calls.{s}": n
                                for s, n in decision.calls.items()
                            }
                        )
                    context.admission.check(
                        decision.calls, decision.citizens, caller.access
                    )
                    if caller.quota is not None:
                        reason = "quota"
                        citizens = looked_up(
                            decision.subjects, decision.calls, context.keys
                        )
                        await context.quotas.count(
                            caller.client_id, caller.quota, citizens
                        )
            except RateLimited as refusal:
                context.metrics.refused(reason)
                decision.refused = True
                execution.result = GraphQLExecutionResult(
                    data=None,
                    errors=[GraphQLError(refusal.message, original_error=refusal)],
                )
                context.response.status_code = refusal.http_status
                context.response.headers["Retry-After"] = str(refusal.retry_after_s)
        yield


def _decided(decision: Decision, role: str) -> dict[str, Any]:
    """The decision's shape for its span: counts and names, never a value."""
    return {
        "citizen_graph.role": role,
        "citizen_graph.citizens": decision.citizens,
        "citizen_graph.fields_permitted": len(decision.allowed),
        "citizen_graph.fields_denied": len(decision.denied),
        "citizen_graph.cost": decision.cost,
    }


def _refusal(decision: Decision, limits: LimitSettings) -> CitizenGraphError | None:
    if decision.citizens > limits.max_keys:
        return BadUserInput(f"At most {limits.max_keys} citizens per request.")
    if decision.cost > limits.max_cost:
        return QueryTooComplex(
            f"The request would fetch {decision.cost} upstream-backed fields "
            f"(citizens × fields); the limit is {limits.max_cost}."
        )
    return None


async def _hollow() -> Hollow:
    return HOLLOW
