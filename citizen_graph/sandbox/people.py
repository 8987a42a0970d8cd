"""The records of the simulated State: people, addresses, tax households, studies."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from citizen_graph.sandbox.names import STREET_KIND_ABBREVIATIONS, Institution, Street
from citizen_graph.sandbox.places import BirthPlace, Commune
from citizen_graph.sandbox.text import name_key

# Immutable values; every upstream module reads them and renders its own format. The ones built
# by the thousand at every start are named tuples, three times cheaper to create than dataclasses.

# Income amounts are generated for this year; other years are derived from it.
REFERENCE_INCOME_YEAR = 2025
# Ages are computed at this date, so that the population is the same whatever the clock says.
REFERENCE_DATE = datetime.date(2026, 11, 28)

_TAX_ABBREVIATIONS = MappingProxyType({"SAINT": "ST", "SAINTE": "STE"})


class Person(NamedTuple):
    birth_name: str  # nom de naissance, upper case
    usage_name: str | None  # nom d'usage
    given_names: tuple[str, ...]  # prénoms, upper case
    birth_date: datetime.date
    sex: str  # "F" or "M"
    birth_place: BirthPlace
    fiscal_number: str | None = None  # SPI; children have none

    @property
    def first_given_name(self) -> str:
        return self.given_names[0]


class Address(NamedTuple):
    commune: Commune
    street: Street
    number: int | None  # None for a locality (lieu-dit)
    suffix: str = ""  # "BIS", "TER"
    complement: str | None = None  # "APPARTEMENT 12"
    in_ban: bool = True  # False: BAN does not know this street

    @property
    def housenumber(self) -> str:
        """BAN's housenumber: "12", "12bis"."""
        return f"{self.number}{self.suffix.lower()}" if self.number else ""

    @property
    def tax_street_line(self) -> str:
        """DGFiP's spelling: "12 BIS R DES EXEMPLES", "LIEU DIT LE SIMULACRE"."""
        if not self.street.kind:
            return f"LIEU DIT {name_key(self.street.body)}"
        kind = STREET_KIND_ABBREVIATIONS[self.street.kind]
        body = " ".join(
            _TAX_ABBREVIATIONS.get(w, w) for w in name_key(self.street.body).split()
        )
        return f"{self._number_prefix()}{kind} {body}"

    @property
    def postal_street_line(self) -> str | None:
        """La Poste's line 4: "12 BIS RUE DES EXEMPLES"; None for a locality."""
        if not self.street.kind:
            return None
        return f"{self._number_prefix()}{name_key(self.street.name)}"

    @property
    def postal_city_line(self) -> str:
        return f"{self.commune.postcode} {self.commune.tax_name}"

    def _number_prefix(self) -> str:
        if self.number is None:
            return ""
        return f"{self.number} {self.suffix} " if self.suffix else f"{self.number} "


@dataclass(frozen=True, slots=True)
class Study:
    """A student's admissions: this academic year, and sometimes the previous one."""

    institution: Institution
    enrolled: bool  # False: admitted but not (yet) enrolled
    regime: str  # code of the training regime, RF1…
    previous_institution: Institution | None = None


class Household(NamedTuple):
    """A tax household (foyer fiscal): one notice, one or two declarants."""

    family_status: (
        str  # sitFam: M married, O civil union, C single, D divorced, V widowed
    )
    declarants: tuple[Person, ...]
    children: tuple[Person, ...]
    address: Address
    income: int  # revenu fiscal de référence of REFERENCE_INCOME_YEAR
    growth: float  # yearly growth of the income
    tax: int | None  # montant de l'impôt of REFERENCE_INCOME_YEAR; None: not taxable
    family_file: str | None = None  # "cnaf", "msa" or None
    family_quotient: int = (
        0  # the family file's quotient familial, before monthly noise
    )
    file_number: int = 0  # a stable number for the family file

    @property
    def couple(self) -> bool:
        return len(self.declarants) == 2
