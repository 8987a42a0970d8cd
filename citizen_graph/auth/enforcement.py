"""The one place authorization is enforced: a Strawberry extension around execution.

Before any resolver runs it takes the decision (`decision.decide`) and puts it on the context;
then, field by field, a forbidden field raises FORBIDDEN instead of resolving and a hollow one
is answered with an empty object, so no upstream is called for data the role cannot read.
Resolvers and connectors never see roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from citizen_graph.auth.decision import decide
from citizen_graph.errors import Forbidden


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
            context.decision = decide(
                execution.schema._schema,
                execution.graphql_document,
                execution.operation_name,
                execution.variables,
                context.policy,
                context.caller.role,
            )
        yield

    def resolve(
        self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        decision = info.context.decision
        if decision is None or decision.is_total:
            return _next(root, info, *args, **kwargs)
        key = tuple(k for k in info.path.as_list() if isinstance(k, str))
        coordinate = decision.forbidden.get(key)
        if coordinate is not None:
            raise Forbidden(f"The role {decision.role} may not read {coordinate}.")
        if key in decision.hollow:
            return _hollow()  # hollow fields are Citizen's async, upstream-backed ones
        return _next(root, info, *args, **kwargs)


async def _hollow() -> Hollow:
    return HOLLOW
