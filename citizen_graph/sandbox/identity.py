"""The pivot identity query parameters of API Particulier's `/identite` routes, validated as the
real service does (422 `00366`, or `00427` without `sexeEtatCivil`)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence

from citizen_graph.sandbox.particulier_errors import ApiError, invalid_identity
from citizen_graph.sandbox.places import FRANCE
from citizen_graph.sandbox.population import IdentityQuery

Params = Mapping[str, Sequence[str]]
NAME = re.compile(r"[^\W\d_]+(?:[ '\-]+[^\W\d_]+)*")
COUNTRY = re.compile(r"99[0-9]{3}")
COMMUNE = re.compile(r"[0-9][0-9AB][0-9]{3}")
_DATE_PARTS = ("anneeDateNaissance", "moisDateNaissance", "jourDateNaissance")


def one(params: Params, key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def pivot_identity(
    params: Params, today: datetime.date, *, full_birth_date: bool, birth_country: bool
) -> IdentityQuery:
    """`full_birth_date`: MESRI needs the whole date; `birth_country`: QF needs the country
    (and the commune when born in France)."""
    sex = one(params, "sexeEtatCivil")
    if sex is None:
        raise ApiError(
            422,
            "00427",
            "Paramètre manquant",
            "Le sexe est obligatoire.",
            parameter="sexeEtatCivil",
        )
    if sex not in ("F", "M"):
        raise invalid_identity("sexeEtatCivil vaut M ou F.", "sexeEtatCivil")
    name = _name(params)
    given = _given_names(params)
    year, month, day = _birth_date(params, full_birth_date)
    if year is not None and not 1900 <= year <= today.year:
        raise invalid_identity("L'année de naissance est hors limites.")
    if birth_country:
        _birth_place(params)
    return IdentityQuery(name, given[0], sex, year, month, day)


def _name(params: Params) -> str:
    name = (one(params, "nomNaissance") or "").strip()
    if not NAME.fullmatch(name):
        raise invalid_identity("nomNaissance est obligatoire.", "nomNaissance")
    usage = one(params, "nomUsage")
    if usage and not NAME.fullmatch(usage.strip()):
        raise invalid_identity("nomUsage est mal formaté.", "nomUsage")
    return name


def _given_names(params: Params) -> list[str]:
    given = [g.strip() for g in params.get("prenoms[]") or params.get("prenoms") or ()]
    if not 1 <= len(given) <= 3 or not all(NAME.fullmatch(g) for g in given):
        raise invalid_identity("De 1 à 3 prénoms sont attendus.", "prenoms[]")
    return given


def _birth_date(
    params: Params, full: bool
) -> tuple[int | None, int | None, int | None]:
    """Year, month, day; the month is ignored without the year, the day without the month."""
    raw = [one(params, key) for key in _DATE_PARTS]
    if full and None in raw:
        raise invalid_identity("La date de naissance complète est obligatoire.")
    if not all(p is None or p.isdigit() for p in raw):
        raise invalid_identity("La date de naissance est mal formatée.")
    year, month, day = (int(p) if p else None for p in raw)
    month = month if year is not None else None
    day = day if month is not None else None
    try:
        datetime.date(2000 if year is None else max(year, 1), month or 1, day or 1)
    except ValueError:
        raise invalid_identity("La date de naissance n'existe pas.") from None
    return year, month, day


def _birth_place(params: Params) -> None:
    country = one(params, "codeCogInseePaysNaissance")
    commune = one(params, "codeCogInseeCommuneNaissance")
    if country is None or not COUNTRY.fullmatch(country):
        raise invalid_identity(
            "codeCogInseePaysNaissance est obligatoire.", "codeCogInseePaysNaissance"
        )
    if commune is not None and not COMMUNE.fullmatch(commune):
        raise invalid_identity(
            "codeCogInseeCommuneNaissance est mal formaté.",
            "codeCogInseeCommuneNaissance",
        )
    by_name = one(params, "nomCommuneNaissance") and one(
        params, "codeCogInseeDepartementNaissance"
    )
    if country == FRANCE and commune is None and not by_name:
        raise invalid_identity(
            "La commune de naissance est obligatoire (né en France).",
            "codeCogInseeCommuneNaissance",
        )
