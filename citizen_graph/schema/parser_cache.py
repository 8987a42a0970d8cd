"""CachedParser: Strawberry's parser cache, with parse errors left inside the GraphQL stage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

from graphql import GraphQLError
from strawberry.extensions import ParserCache


class CachedParser(ParserCache):
    """Strawberry's `ParserCache` parses while the parse stage is being entered, outside the
    schema's own error handling, so a syntax error escapes as an exception: no extension sees
    its result, and neither the contract's errors nor the audit would apply. Here a document
    that does not parse is left to Strawberry's own parse step (a second parse, bounded by the
    token limit, for invalid documents only), which reports it as a pre-execution error.
    """

    def on_parse(self) -> Iterator[None]:
        execution = self.execution_context
        # A document that does not parse is parsed again, and reported, by Strawberry.
        with suppress(GraphQLError):
            execution.graphql_document = self.cached_parse_document(
                execution.query, **execution.parse_options
            )
        yield
