"""The project's own data: what connectors return, in domain names.

Upstream field names (`rfr`, `nbPart`, `quotient_familial`) stop at the connectors; everything
above them reads these frozen dataclasses. This module imports nothing from the project.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PivotIdentity:
    """The pivot identity API Particulier matches people on (also a loader key)."""

    birth_name: str
    given_names: tuple[str, ...]
    birth_date: datetime.date
    sex: str  # "F" | "M"
    birth_country_code: str = "99100"  # INSEE COG; France
    birth_place_code: str | None = None  # INSEE COG commune, when born in France
    usage_name: str | None = None


@dataclass(frozen=True, slots=True)
class Declarant:
    """One declarant of a tax notice (déclarant 1 or 2)."""

    fiscal_number: str | None  # SPI
    birth_name: str | None
    usage_name: str | None
    given_names: tuple[str, ...]
    birth_date: datetime.date | None
    birth_place: str | None
    birth_department: str | None


@dataclass(frozen=True, slots=True)
class TaxAddress:
    """The tax address at 1 January, as DGFiP writes it (adresse fiscale de taxation)."""

    label: str  # one line, upper case, DGFiP abbreviations
    street_line: str | None
    complement: str | None
    postcode: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class TaxSituation:
    """One income-tax situation for one income year (avis d'impôt sur le revenu)."""

    income_year: int
    reference_tax_income: int | None  # revenu fiscal de référence
    shares: float | None  # nombre de parts
    family_situation: str | None  # SINGLE | MARRIED | CIVIL_UNION | DIVORCED | WIDOWED
    dependents: int | None  # personnes à charge
    gross_income: int | None  # revenu brut global
    taxable_income: int | None  # revenu imposable
    tax_before_corrections: int | None  # impôt avant imputations
    tax_amount: int | None  # montant total de l'impôt; None when not taxable
    issued_on: datetime.date | None  # date d'établissement
    collected_on: datetime.date | None  # date de mise en recouvrement
    declarants: tuple[Declarant, ...]
    address: TaxAddress | None

    @property
    def tax_year(self) -> int:
        return self.income_year + 1

    def declarant(self, fiscal_number: str) -> Declarant | None:
        """The declarant this fiscal number belongs to (the first one if unknown)."""
        for declarant in self.declarants:
            if declarant.fiscal_number == fiscal_number:
                return declarant
        return self.declarants[0] if self.declarants else None


@dataclass(frozen=True, slots=True)
class TaxHistory:
    """The latest situations DGFiP holds for a fiscal number, most recent first."""

    situations: tuple[TaxSituation, ...]

    @property
    def latest(self) -> TaxSituation:
        return self.situations[0]

    def for_year(self, income_year: int) -> TaxSituation | None:
        for situation in self.situations:
            if situation.income_year == income_year:
                return situation
        return None


@dataclass(frozen=True, slots=True)
class GeocodedAddress:
    """An address normalised and geocoded by the BAN."""

    label: str
    house_number: str | None
    street: str | None
    postcode: str | None
    city: str | None
    city_code: str | None  # INSEE commune code
    latitude: float | None
    longitude: float | None
    score: float | None
    ban_id: str | None


@dataclass(frozen=True, slots=True)
class FamilyMember:
    birth_name: str | None
    usage_name: str | None
    given_names: tuple[str, ...]
    birth_date: datetime.date | None
    sex: str | None


@dataclass(frozen=True, slots=True)
class FamilyQuotient:
    """A CAF or MSA family quotient for one month (quotient familial)."""

    value: int | None
    provider: str | None  # CNAF | MSA
    year: int | None
    month: int | None
    computed_year: int | None
    computed_month: int | None
    beneficiaries: tuple[FamilyMember, ...]  # allocataires
    children: tuple[FamilyMember, ...]  # enfants


@dataclass(frozen=True, slots=True)
class Admission:
    start_date: datetime.date | None
    end_date: datetime.date | None
    enrolled: bool | None  # inscrit (else only admitted)
    training_regime: str | None  # régime de formation
    institution_name: str | None
    institution_uai: str | None
    city_code: str | None


@dataclass(frozen=True, slots=True)
class StudentStatus:
    """MESRI student status (statut étudiant)."""

    admissions: tuple[Admission, ...]

    def enrolled_on(self, day: datetime.date) -> bool:
        return any(
            admission.enrolled
            and (admission.start_date is None or admission.start_date <= day)
            and (admission.end_date is None or day <= admission.end_date)
            for admission in self.admissions
        )


@dataclass(frozen=True, slots=True)
class CitizenKey:
    """What the caller gave to find a citizen: a fiscal number, an identity, or both."""

    fiscal_number: str | None = None
    identity: PivotIdentity | None = None
