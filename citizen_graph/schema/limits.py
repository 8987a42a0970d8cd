"""A limit Strawberry does not ship: directives per operation (directive overloading).

graphql-core reports one error per unknown directive, so `__typename @aa @aa …` multiplies the
work and the errors; above the cap the operation is refused with a single error before any
validation (Strawberry skips its own validation once pre-execution errors are set).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DirectiveNode, GraphQLError, Visitor, visit
from strawberry.extensions import SchemaExtension


class MaxDirectivesLimiter(SchemaExtension):
    def __init__(self, max_directive_count: int) -> None:
        self.max_directive_count = max_directive_count

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None and _count(document) > self.max_directive_count:
            self.execution_context.pre_execution_errors = [
                GraphQLError(
                    f"The operation exceeds maximum directives of {self.max_directive_count}."
                )
            ]
        yield


def _count(document: object) -> int:
    found = 0

    class Count(Visitor):
        def enter_directive(self, node: DirectiveNode, *args: object) -> None:
            nonlocal found
            found += 1

    visit(document, Count())  # type: ignore[arg-type]
    return found
