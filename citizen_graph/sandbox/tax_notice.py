"""A household's income tax situation (`SituationsIRAssiettes`) in DGFiP's own field names."""

from __future__ import annotations

import datetime
from typing import Any

from citizen_graph.sandbox.people import REFERENCE_INCOME_YEAR, Household, Person
from citizen_graph.sandbox.taxes import shares

# Amounts are those of the reference income year, grown or shrunk by the household's yearly
# growth; children count from the year they are born.

_DECLARANT_FIELDS = (
    "spiDec",
    "nmNaiDec",
    "nmUsaDec",
    "prnmDec",
    "dateNaisDec",
    "lieuNaissDec",
    "dptNaissDec",
)


def latest_income_year(today: datetime.date) -> int:
    """Notices of the income of year N-1 are issued over the summer: available from August."""
    return today.year - 1 if today.month >= 8 else today.year - 2


def situation(household: Household, year: int) -> dict[str, Any]:
    factor = household.growth ** (year - REFERENCE_INCOME_YEAR)
    rfr = round(household.income * factor)
    tax = None if household.tax is None else round(household.tax * factor)
    children = sum(1 for c in household.children if c.birth_date.year <= year)
    couple = household.couple
    body: dict[str, Any] = {
        "rfr": rfr,  # revenu fiscal de référence
        "nbPart": shares(couple, children, single_parent=not couple),
        "sitFam": household.family_status,
        "pac": {"nbPac": children},  # personnes à charge
        **_address(household),
        "revenuBrutGlobal": round(rfr * 1.02),
        "revImposable": rfr,
        "impAvImput": tax or 0,  # impôt avant imputations
        "montTotIr": tax,  # None: not taxable
        **_dates(household, year),
    }
    declarants = household.declarants
    body |= _declarant(declarants[0], 1)
    body |= _declarant(declarants[1] if couple else None, 2)
    return body


def _address(household: Household) -> dict[str, Any]:
    address = household.address
    street = address.tax_street_line
    line = " ".join(
        filter(None, (address.complement, street, address.postal_city_line))
    )
    return {
        "aft": line,  # adresse fiscale de taxation, at 1 January
        "aftDetail": {
            "complementAdresse": address.complement,
            "voie": street,
            "getcommune": address.commune.tax_name,
            "getcodePostal": address.commune.postcode,
        },
    }


def _dates(household: Household, year: int) -> dict[str, str]:
    """Établissement in July of the next year, recouvrement at the end of July or September."""
    day = 3 + (household.file_number + year) % 20
    collected = "31/07" if day < 15 else "15/09"
    return {"datEtab": f"{day:02d}/07/{year + 1}", "datRec": f"{collected}/{year + 1}"}


def _declarant(person: Person | None, n: int) -> dict[str, Any]:
    if person is None:
        return {f"{name}{n}": None for name in _DECLARANT_FIELDS}
    born = person.birth_date
    return {
        f"spiDec{n}": person.fiscal_number,
        f"nmNaiDec{n}": person.birth_name,
        f"nmUsaDec{n}": person.usage_name or "",
        f"prnmDec{n}": " ".join(person.given_names),
        f"dateNaisDec{n}": {
            "jour": f"{born.day:02d}",
            "mois": f"{born.month:02d}",
            "annee": str(born.year),
        },
        f"lieuNaissDec{n}": person.birth_place.name,
        f"dptNaissDec{n}": person.birth_place.department,
    }
