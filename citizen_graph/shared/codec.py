"""The project's records as bytes, for the shared cache: JSON, never pickle.

Only the record classes of `records.py` decode (a name outside them is unreadable), so what
Redis holds can never make the gateway build anything else, even under a leaked key.
Absence (NOT_FOUND, or no BAN match) is a value of its own.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from citizen_graph import records
from citizen_graph.errors import NotFound

RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in vars(records).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}


class Unreadable(ValueError):
    """The bytes are not a value this codec wrote."""


def encode(value: Any) -> bytes:
    """A record, a tuple of them, None (no match) or a NotFound, as bytes."""
    if isinstance(value, NotFound):
        plain: Any = {"$absent": value.source, "message": value.message}
    else:
        plain = {"$value": _plain(value)}
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes) -> Any:
    """The value `encode` was given; a NotFound is returned, not raised."""
    try:
        plain = json.loads(data)
        if "$absent" in plain:
            return NotFound(plain["$absent"], plain["message"])
        return _value(plain["$value"])
    except (ValueError, KeyError, TypeError) as error:
        raise Unreadable("not a cached value") from error


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime):
        raise TypeError("records hold dates, not date-times")
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple | list):
        return {"$tuple": [_plain(item) for item in value]}
    if type(value).__name__ in RECORDS and dataclasses.is_dataclass(value):
        fields = {
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
        return {"$record": type(value).__name__, "fields": fields}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _value(plain: Any) -> Any:
    if not isinstance(plain, dict):
        return plain
    if "$date" in plain:
        return datetime.date.fromisoformat(plain["$date"])
    if "$tuple" in plain:
        return tuple(_value(item) for item in plain["$tuple"])
    cls = RECORDS[plain["$record"]]
    return cls(**{name: _value(item) for name, item in plain["fields"].items()})
