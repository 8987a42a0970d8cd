"""The one place where errors become contract errors (`extensions.code`, `source`).

Applied by the HTTP view to every result (parse, validation and execution errors alike).

The project's own errors keep their message and code; parse and validation errors become
BAD_USER_INPUT (limits: QUERY_TOO_COMPLEX) with suggestions removed, so field names cannot be
fished out; anything else is masked as INTERNAL and logged without the query text.
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from citizen_graph.errors import CitizenGraphError

logger = logging.getLogger("citizen_graph.errors")

SUGGESTION = re.compile(r"\s*Did you mean .*\?$")
# Values graphql-core echoes back in coercion messages (strings are double-quoted, inputs
# printed as dicts or lists; names of types and variables are single-quoted and stay).
ECHOED_VALUE = re.compile(
    r'"(?:[^"\\]|\\.)*"|\b\d{3,}\b|\{[^;]*\}|\[[^;]*\]|(?<=Value )\'[^\']*\''
)
# The messages of Strawberry's limiters and graphql-core's token limit.
LIMIT = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|contains more than \d+ tokens"
    r"|exceeds maximum directives"
)


def contract_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, CitizenGraphError):
        return _with(error, original.message, original.extensions)
    if original is None or isinstance(
        original, GraphQLError
    ):  # parse, validation, coercion
        message = ECHOED_VALUE.sub("<value>", SUGGESTION.sub("", error.message))
        code = "QUERY_TOO_COMPLEX" if LIMIT.search(message) else "BAD_USER_INPUT"
        return _with(error, message, {"code": code})
    logger.error(
        "unexpected error while resolving",
        exc_info=(type(original), original, original.__traceback__),
        extra={"path": error.path},
    )
    return _with(error, "Internal error.", {"code": "INTERNAL"})


def _with(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
