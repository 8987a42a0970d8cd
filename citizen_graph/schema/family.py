"""FamilyQuotient and FamilyMember: a CAF or MSA file through API Particulier."""

from __future__ import annotations

import datetime

import strawberry

from citizen_graph.records import FamilyMember as FamilyMemberRecord
from citizen_graph.records import FamilyQuotient as FamilyQuotientRecord
from citizen_graph.schema.enums import BenefitProvider, Sex


@strawberry.type
class FamilyMember:
    birth_name: str | None
    usage_name: str | None
    given_names: list[str] | None
    birth_date: datetime.date | None
    sex: Sex | None

    @classmethod
    def from_record(cls, member: FamilyMemberRecord) -> FamilyMember:
        return cls(
            birth_name=member.birth_name,
            usage_name=member.usage_name,
            given_names=list(member.given_names),
            birth_date=member.birth_date,
            sex=Sex(member.sex) if member.sex in ("F", "M") else None,
        )


@strawberry.type(description="Quotient familial of one month (CNAF or MSA).")
class FamilyQuotient:
    value: int | None
    provider: BenefitProvider | None
    year: int | None
    month: int | None
    computed_year: int | None
    computed_month: int | None
    beneficiaries: list[FamilyMember] | None = strawberry.field(
        description="Allocataires: always the current members, even for a past month."
    )
    children: list[FamilyMember] | None

    @classmethod
    def from_record(cls, quotient: FamilyQuotientRecord) -> FamilyQuotient:
        return cls(
            value=quotient.value,
            provider=(
                BenefitProvider(quotient.provider)
                if quotient.provider in ("CNAF", "MSA")
                else None
            ),
            year=quotient.year,
            month=quotient.month,
            computed_year=quotient.computed_year,
            computed_month=quotient.computed_month,
            beneficiaries=[FamilyMember.from_record(m) for m in quotient.beneficiaries],
            children=[FamilyMember.from_record(m) for m in quotient.children],
        )
