"""TaxNotice: one income-tax situation (avis d'impôt sur le revenu)."""

from __future__ import annotations

import datetime

import strawberry

from citizen_graph.records import TaxSituation
from citizen_graph.schema.enums import FamilySituation


@strawberry.type(description="An income-tax notice for one income year (DGFiP).")
class TaxNotice:
    income_year: int
    tax_year: int
    reference_tax_income: int | None = strawberry.field(
        description="Revenu fiscal de référence, in euros."
    )
    shares: float | None = strawberry.field(description="Nombre de parts.")
    family_situation: FamilySituation | None
    dependents: int | None = strawberry.field(description="Personnes à charge.")
    gross_income: int | None
    taxable_income: int | None
    tax_before_corrections: int | None
    tax_amount: int | None = strawberry.field(description="Null when not taxable.")
    issued_on: datetime.date | None
    collected_on: datetime.date | None

    @classmethod
    def from_record(cls, situation: TaxSituation) -> TaxNotice:
        return cls(
            income_year=situation.income_year,
            tax_year=situation.tax_year,
            reference_tax_income=situation.reference_tax_income,
            shares=situation.shares,
            family_situation=(
                FamilySituation(situation.family_situation)
                if situation.family_situation
                else None
            ),
            dependents=situation.dependents,
            gross_income=situation.gross_income,
            taxable_income=situation.taxable_income,
            tax_before_corrections=situation.tax_before_corrections,
            tax_amount=situation.tax_amount,
            issued_on=situation.issued_on,
            collected_on=situation.collected_on,
        )
