"""The project's own scalars: coercion errors say what was expected, never what was given."""

from __future__ import annotations

import datetime
import re
from typing import Any

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper

# Strawberry's built-in `Date` puts the rejected input in its message (a birth date is
# personal data); `build_schema` puts this one in its place with `scalar_overrides`.

DATE_EXPECTED = "Expected a date as YYYY-MM-DD."
# fromisoformat alone would also take "20240314" and "2024-W11-4" (Python ≥ 3.11).
YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: object) -> datetime.date:
    if not isinstance(value, str) or not YYYY_MM_DD.fullmatch(value):
        raise GraphQLError(DATE_EXPECTED)
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise GraphQLError(DATE_EXPECTED) from None


def parse_date_literal(
    node: ValueNode, _variables: dict[str, Any] | None = None
) -> datetime.date:
    # Raised with its node, the error keeps the literal's location.
    if not isinstance(node, StringValueNode):
        raise GraphQLError(DATE_EXPECTED, node)
    try:
        return parse_date(node.value)
    except GraphQLError:
        raise GraphQLError(DATE_EXPECTED, node) from None


def serialize_date(value: datetime.date) -> str:
    return value.isoformat()


Date = strawberry.scalar(
    name="Date",
    description="Date (isoformat)",
    serialize=serialize_date,
    parse_value=parse_date,
    parse_literal=parse_date_literal,
)

# Typed as `strawberry.federation.Schema(scalar_overrides=…)` takes it.
SCALAR_OVERRIDES: dict[object, type | ScalarWrapper | ScalarDefinition] = {
    datetime.date: Date
}
