"""The one place where errors become contract errors (`extensions.code`, `source`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from citizen_graph.errors import CitizenGraphError

# Applied by the HTTP view to every result (parse, validation and execution errors alike).
#
# The project's own errors keep their message and code; parse and validation errors become
# BAD_USER_INPUT (limits: QUERY_TOO_COMPLEX) with suggestions removed, so field names cannot be
# fished out, and every input value masked; anything else is masked as INTERNAL and logged
# without the query text.

logger = logging.getLogger("citizen_graph.errors")

MASK = "<value>"
SUGGESTION = re.compile(r"\s*Did you mean .*\?$")
# graphql-core quotes names and values alike ('Sex', '$identity', 'x3000…' or "x3000…"):
# a quoted text stays only when it is a name of the schema or of a variable.
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# What it prints unquoted is a value: an enum literal, a number, an object or list (whose
# quoted parts are masked first), printed after these words up to the end of the clause.
UNQUOTED_VALUE = re.compile(
    r"found: |got invalid value |cannot represent [^:;']*value: "
)
CLAUSE_END = re.compile(r"\.?(?:;|$)")
OBJECT = re.compile(r"\{[^;]*\}")
DIGITS = re.compile(r"\d{3,}")
WRAPPERS = str.maketrans("", "", "[]!")
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# The messages of Strawberry's limiters and graphql-core's token limit (numbers are limits).
LIMIT = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|contains more than \d+ tokens"
    r"|exceeds maximum directives|is nested too deeply"  # the last: graphql-core's parser
)


def schema_names(schema: GraphQLSchema) -> frozenset[str]:
    """Names an error may quote: types, fields, arguments, input fields, directives (not
    enum values: `'F'` is the caller's input, and a sex)."""
    names: set[str] = set()
    for type_ in schema.type_map.values():
        names.add(type_.name)
        if isinstance(
            type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            for field_name, field in type_.fields.items():
                names.add(field_name)
                names.update(getattr(field, "args", {}))
    for directive in schema.directives:
        names.add(directive.name)
        names.update(directive.args)
    return frozenset(names)


def contract_error(
    error: GraphQLError, names: Collection[str] = frozenset()
) -> GraphQLError:
    """`names`: the schema's (`schema_names`); any quoted text not among them is masked."""
    original = error.original_error
    if isinstance(original, CitizenGraphError):
        return _with(error, original.message, original.extensions)
    if original is None or isinstance(
        original, GraphQLError
    ):  # parse, validation, coercion
        message = SUGGESTION.sub("", error.message)
        if LIMIT.search(message):
            return _with(
                error, mask(message, names, digits=False), {"code": "QUERY_TOO_COMPLEX"}
            )
        return _with(error, mask(message, names), {"code": "BAD_USER_INPUT"})
    logger.error(
        "unexpected error while resolving",
        exc_info=(type(original), original, original.__traceback__),
        extra={"path": error.path},
    )
    return _with(error, "Internal error.", {"code": "INTERNAL"})


def mask(message: str, names: Collection[str], digits: bool = True) -> str:
    """The message with every input value it quotes or prints replaced by `<value>`."""
    message = QUOTED.sub(lambda quoted: _quoted(quoted.group(), names), message)
    message = _mask_unquoted(OBJECT.sub(MASK, message))
    return DIGITS.sub(MASK, message) if digits else message


def _quoted(quoted: str, names: Collection[str]) -> str:
    text = quoted[1:-1]
    if text.startswith("$") and NAME.fullmatch(text[1:]):
        return quoted  # a variable's name
    parts = text.removeprefix("@").translate(WRAPPERS).split(".")
    return quoted if all(part in names for part in parts) else MASK


def _mask_unquoted(message: str) -> str:
    """Each value printed after an UNQUOTED_VALUE prefix, up to the end of its clause."""
    kept, position = [], 0
    for prefix in UNQUOTED_VALUE.finditer(message):
        if prefix.start() < position:
            continue  # inside a value already masked
        end = CLAUSE_END.search(message, prefix.end())
        stop = end.start() if end else len(message)
        kept += [message[position : prefix.end()], MASK if stop > prefix.end() else ""]
        position = stop
    return "".join(kept) + message[position:]


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
