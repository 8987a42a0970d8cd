"""ContractErrors: the GraphQL stage's part that turns every error into a contract error."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension

from citizen_graph.errors import BadUserInput
from citizen_graph.schema.errors import contract_error, schema_names

MAX_ERRORS = 10  # pre-execution errors reported for one document


class ContractErrors(SchemaExtension):
    """Parse, validation, limit, decision and resolver errors alike leave the stage with an
    `extensions.code` (`schema/errors.py`), and a bad document gets a bounded list.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            names = _names(self.execution_context.schema._schema)
            result.errors = bounded_errors(
                [contract_error(error, names) for error in result.errors]
            )


@cache
def _names(schema: GraphQLSchema) -> frozenset[str]:
    """The schema's names, computed once per schema (never per request)."""
    return schema_names(schema)


def bounded_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """A bad document gets a bounded answer (graphql-core stops at 100 errors itself)."""
    if len(errors) <= MAX_ERRORS or any(e.path for e in errors):
        return errors
    summary = BadUserInput(f"Too many errors: only the first {MAX_ERRORS} are shown.")
    return [
        *errors[:MAX_ERRORS],
        GraphQLError(summary.message, extensions=summary.extensions),
    ]
