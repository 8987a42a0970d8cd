"""Identity: the declarant a fiscal number belongs to, as DGFiP knows them."""

from __future__ import annotations

import datetime

import strawberry

from citizen_graph.records import Declarant


@strawberry.type(description="The declarant the fiscal number belongs to (DGFiP).")
class Identity:
    birth_name: str | None
    usage_name: str | None
    given_names: list[str] | None
    birth_date: datetime.date | None
    birth_place: str | None
    birth_department: str | None

    @classmethod
    def from_record(cls, declarant: Declarant) -> Identity:
        return cls(
            birth_name=declarant.birth_name,
            usage_name=declarant.usage_name,
            given_names=list(declarant.given_names),
            birth_date=declarant.birth_date,
            birth_place=declarant.birth_place,
            birth_department=declarant.birth_department,
        )
