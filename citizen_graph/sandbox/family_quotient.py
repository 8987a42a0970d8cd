"""The CNAF/MSA family quotient answer (`/v3/dss/quotient_familial/identite`): the period
rules, and the four `data` blocks, each unlocked by its own scope.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from citizen_graph.sandbox.geo import stable_fraction
from citizen_graph.sandbox.identity import Params, one
from citizen_graph.sandbox.particulier_errors import ApiError
from citizen_graph.sandbox.people import Household, Person
from citizen_graph.sandbox.text import name_key

# scope → the `data` block it unlocks
SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "cnaf_allocataires": "allocataires",
        "cnaf_enfants": "enfants",
        "cnaf_adresse": "adresse",
        "cnaf_quotient_familial": "quotient_familial",
    }
)
MAX_MONTHS_BACK = 24


def period(params: Params, today: datetime.date) -> tuple[int, int]:
    """The QF month asked (`annee`, `mois`): this month by default, at most 24 months back."""
    year, month = one(params, "annee"), one(params, "mois")
    if year is None and month is None:
        return today.year, today.month
    if not (
        year and month and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12
    ):
        raise _bad_period("Les paramètres annee et mois sont attendus ensemble.")
    back = (today.year - int(year)) * 12 + today.month - int(month)
    if back < 0:
        raise _bad_period("Le quotient familial d'un mois futur n'existe pas.")
    if back > MAX_MONTHS_BACK:
        raise _bad_period("L'historique remonte au plus à 24 mois.")
    return int(year), int(month)


def _bad_period(detail: str) -> ApiError:
    return ApiError(400, "00368", "Période invalide", detail, parameter="annee")


def family_quotient(
    household: Household, year: int, month: int, today: datetime.date, scopes: set[str]
) -> dict[str, Any]:
    """The `data` blocks the token's scopes unlock; family members are always today's."""
    blocks: dict[str, Callable[[], Any]] = {
        "allocataires": lambda: [_member(p) for p in household.declarants],
        "enfants": lambda: [_member(p) for p in household.children],
        "adresse": lambda: _postal_address(household),
        "quotient_familial": lambda: _quotient(household, year, month, today),
    }
    return {
        block: blocks[block]() for scope, block in SCOPES.items() if scope in scopes
    }


def _quotient(
    household: Household, year: int, month: int, today: datetime.date
) -> dict[str, Any]:
    noise = stable_fraction(f"{household.file_number}:{year}:{month}") * 0.04 - 0.02
    if household.family_file == "msa":  # MSA computes in real time
        provider, computed = "MSA", (today.year, today.month)
    else:  # CAF computes month M on the resources of M-1
        provider, computed = "CNAF", (year, month - 1) if month > 1 else (year - 1, 12)
    return {
        "fournisseur": provider,
        "valeur": round(household.family_quotient * (1 + noise)),
        "annee": year,
        "mois": month,
        "annee_calcul": computed[0],
        "mois_calcul": computed[1],
    }


def _member(person: Person) -> dict[str, Any]:
    return {
        "nom_naissance": person.birth_name,
        "nom_usage": person.usage_name,
        "prenoms": " ".join(person.given_names),
        "date_naissance": person.birth_date.isoformat(),
        "sexe": person.sex,
    }


def _postal_address(household: Household) -> dict[str, Any]:
    """La Poste's seven lines (norme AFNOR NF Z10-011)."""
    first, address = household.declarants[0], household.address
    civility = "MADAME" if first.sex == "F" else "MONSIEUR"
    name = first.usage_name or first.birth_name
    locality = None if address.street.kind else name_key(address.street.body)
    return {
        "destinataire": f"{civility} {first.first_given_name} {name}",
        "complement_information": address.complement,
        "complement_information_geographique": None,
        "numero_libelle_voie": address.postal_street_line,
        "lieu_dit": locality,
        "code_postal_ville": address.postal_city_line,
        "pays": "FRANCE",
    }
