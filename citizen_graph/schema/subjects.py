"""The citizens a root field asks for, read from its arguments before execution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from citizen_graph.errors import BadUserInput
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.records import CitizenKey
from citizen_graph.schema.enums import Sex
from citizen_graph.schema.inputs import FRANCE, PivotIdentityInput, citizen_key

# `citizen` asks for one, `citizens` for each of its keys, `_entities` for each representation
# (by its opaque id). Every key counts toward the request's limit; only well-formed keys are
# subjects (a malformed one is refused at its index by its resolver and fetches nothing).


@dataclass(frozen=True)
class Asked:
    count: int  # keys given, well formed or not
    subjects: tuple[CitizenKey, ...]  # the well-formed ones, in order


class SubjectReader:
    def __init__(self, ids: CitizenIdCodec) -> None:
        self._ids = ids

    def read(self, field_name: str, arguments: Mapping[str, Any]) -> Asked | None:
        """None when the root field asks for no citizen."""
        if field_name == "citizen":
            return _asked([_key(arguments)])
        if field_name == "citizens":
            return _asked([_key(k) for k in arguments.get("keys") or ()])
        if field_name == "_entities":
            return _asked(
                [self._entity(r) for r in arguments.get("representations") or ()]
            )
        return None

    def _entity(self, representation: Any) -> CitizenKey | None:
        if not isinstance(representation, Mapping) or not isinstance(
            representation.get("id"), str
        ):
            return None
        try:
            return self._ids.decode(representation["id"])
        except BadUserInput:
            return None


def _asked(keys: list[CitizenKey | None]) -> Asked:
    return Asked(len(keys), tuple(k for k in keys if k is not None))


def _key(arguments: Mapping[str, Any]) -> CitizenKey | None:
    identity = arguments.get("identity")
    try:
        return citizen_key(
            arguments.get("fiscalNumber"),
            _identity(identity) if identity is not None else None,
        )
    except (BadUserInput, KeyError, TypeError, ValueError):
        return None


def _identity(values: Mapping[str, Any]) -> PivotIdentityInput:
    return PivotIdentityInput(
        birth_name=values["birthName"],
        usage_name=values.get("usageName"),
        given_names=list(values["givenNames"]),
        birth_date=values["birthDate"],
        sex=Sex(values["sex"]),
        birth_country_code=values.get("birthCountryCode", FRANCE),
        birth_place_code=values.get("birthPlaceCode"),
    )
