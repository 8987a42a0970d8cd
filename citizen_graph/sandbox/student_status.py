"""The MESRI student status answer (`/v3/mesri/statut_etudiant/identite`), masked by scope:
`identite` needs `mesri_identite`, admissions any of the three others, and their
`regime_formation` / `etablissement_etudes` need `mesri_regime` / `mesri_etablissements`.
"""

from __future__ import annotations

import datetime
from types import MappingProxyType
from typing import Any

from citizen_graph.sandbox.names import Institution
from citizen_graph.sandbox.people import Person, Study

SCOPES = ("mesri_identite", "mesri_inscription", "mesri_regime", "mesri_etablissements")
REGIMES = MappingProxyType(
    {
        "RF1": "formation initiale",
        "RF2": "formation continue",
        "RF3": "formation en apprentissage",
    }
)


def academic_year(today: datetime.date) -> int:
    """The year the current academic year started (1 September)."""
    return today.year if today.month >= 9 else today.year - 1


def student_status(
    person: Person, study: Study, today: datetime.date, scopes: set[str]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if "mesri_identite" in scopes:
        data["identite"] = {
            "nom_naissance": person.birth_name,
            "prenom": person.first_given_name,
            "date_naissance": person.birth_date.isoformat(),
        }
    if scopes & {"mesri_inscription", "mesri_regime", "mesri_etablissements"}:
        start = academic_year(today)
        rows = [(study.institution, study.enrolled, start)]
        if study.previous_institution is not None:
            rows.append((study.previous_institution, True, start - 1))
        data["admissions"] = [_admission(*row, study.regime, scopes) for row in rows]
    return data


def _admission(
    institution: Institution, enrolled: bool, start: int, regime: str, scopes: set[str]
) -> dict[str, Any]:
    admission: dict[str, Any] = {
        "date_debut": f"{start}-09-01",
        "date_fin": f"{start + 1}-08-31",
        "est_inscrit": enrolled,
        "code_cog_insee_commune": institution.commune_code,
    }
    if "mesri_regime" in scopes:
        admission["regime_formation"] = {"libelle": REGIMES[regime], "code": regime}
    if "mesri_etablissements" in scopes:
        admission["etablissement_etudes"] = {
            "uai": institution.uai,
            "nom": institution.name,
        }
    return admission
