"""API Particulier v3: CNAF/MSA family quotient and MESRI student status by pivot identity.

Every call carries the habilitation's JWT and its `recipient` (the SIRET of the body
receiving the data); the
v3 envelope `{"data": …}` and error list `{"errors": [{"code": …}]}` stop here.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx

from citizen_graph.access import Access
from citizen_graph.connectors._client import (
    ClientConfig,
    UpstreamClient,
    json_body,
    unexpected_status,
    unreadable_answer,
)
from citizen_graph.connectors.upstream import Operation, Upstream
from citizen_graph.errors import BadUserInput, Forbidden, NotFound, UpstreamUnavailable
from citizen_graph.records import (
    Admission,
    FamilyMember,
    FamilyQuotient,
    PivotIdentity,
    StudentStatus,
)
from citizen_graph.settings import Settings

SOURCE = "api_particulier"
FAMILY_QUOTIENT_PATH = "/v3/dss/quotient_familial/identite"
STUDENT_STATUS_PATH = "/v3/mesri/statut_etudiant/identite"
# 00015: an identical request of the same token is in flight (asked again once).
IN_FLIGHT = 409


class ApiParticulierConnector:
    source = SOURCE

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client

    async def family_quotient(
        self,
        identity: PivotIdentity,
        access: Access,
        year: int | None = None,
        month: int | None = None,
    ) -> FamilyQuotient:
        """With the habilitation's token and its SIRET as `recipient`."""
        params = _identity_params(identity, access.recipient)
        if year is not None and month is not None:
            params += [("annee", str(year)), ("mois", str(month))]
        data = await self._get("family_quotient", FAMILY_QUOTIENT_PATH, params, access)
        return _family_quotient(data)

    async def student_status(
        self, identity: PivotIdentity, access: Access
    ) -> StudentStatus:
        params = _identity_params(identity, access.recipient)
        data = await self._get("student_status", STUDENT_STATUS_PATH, params, access)
        return _student_status(data)

    async def _get(
        self, operation: str, path: str, params: list[tuple[str, str]], access: Access
    ) -> Any:
        credential = access.api_particulier
        if credential is None:  # the decision keeps these fields from running
            raise Forbidden("The habilitation holds no API Particulier token.")
        headers = {
            "Authorization": f"Bearer {credential.token}",
            "Accept": "application/json",
        }
        response = await self.client.request(
            operation,
            "GET",
            path,
            params=params,
            headers=headers,
            credential=credential.token_id,
            habilitation=access.habilitation,
        )
        if response.status_code == 200:
            body = json_body(response, SOURCE)
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                raise unreadable_answer(SOURCE)
            return body["data"]
        raise _error(response)


def _identity_params(identity: PivotIdentity, recipient: str) -> list[tuple[str, str]]:
    params = [
        ("recipient", recipient),
        ("nomNaissance", identity.birth_name),
        *(("prenoms[]", name) for name in identity.given_names),
        ("anneeDateNaissance", str(identity.birth_date.year)),
        ("moisDateNaissance", str(identity.birth_date.month)),
        ("jourDateNaissance", str(identity.birth_date.day)),
        ("sexeEtatCivil", identity.sex),
        ("codeCogInseePaysNaissance", identity.birth_country_code),
    ]
    if identity.usage_name:
        params.append(("nomUsage", identity.usage_name))
    if identity.birth_place_code:
        params.append(("codeCogInseeCommuneNaissance", identity.birth_place_code))
    return params


def _error(response: httpx.Response) -> Exception:
    status = response.status_code
    if status == 404:
        return NotFound(SOURCE)
    if status == 422 and _first_code(response) != "00203":
        return BadUserInput(
            "The identity was refused by the upstream as badly formatted."
        )
    if status == 429:
        return UpstreamUnavailable(SOURCE, "The upstream's rate limit was reached.")
    if status == IN_FLIGHT:
        return UpstreamUnavailable(
            SOURCE, "An identical request was still being answered upstream."
        )
    return unexpected_status(SOURCE, response)


def _first_code(response: httpx.Response) -> str | None:
    try:
        errors = response.json().get("errors") or [{}]
        return str(errors[0].get("code"))
    except (ValueError, AttributeError, IndexError):
        return None


def _family_quotient(data: dict[str, Any]) -> FamilyQuotient:
    quotient = data.get("quotient_familial") or {}
    try:
        return FamilyQuotient(
            value=_int(quotient.get("valeur")),
            provider=quotient.get("fournisseur"),
            year=_int(quotient.get("annee")),
            month=_int(quotient.get("mois")),
            computed_year=_int(quotient.get("annee_calcul")),
            computed_month=_int(quotient.get("mois_calcul")),
            beneficiaries=tuple(_member(m) for m in data.get("allocataires") or ()),
            children=tuple(_member(m) for m in data.get("enfants") or ()),
        )
    except (AttributeError, TypeError, ValueError):
        raise unreadable_answer(SOURCE) from None


def _member(item: dict[str, Any]) -> FamilyMember:
    return FamilyMember(
        birth_name=item.get("nom_naissance"),
        usage_name=item.get("nom_usage") or None,
        given_names=tuple(str(item.get("prenoms") or "").split()),
        birth_date=_date(item.get("date_naissance")),
        sex=item.get("sexe"),
    )


def _student_status(data: dict[str, Any]) -> StudentStatus:
    try:
        return StudentStatus(
            admissions=tuple(_admission(a) for a in data.get("admissions") or ())
        )
    except (AttributeError, TypeError, ValueError):
        raise unreadable_answer(SOURCE) from None


def _admission(item: dict[str, Any]) -> Admission:
    regime = item.get("regime_formation") or {}
    institution = item.get("etablissement_etudes") or {}
    return Admission(
        start_date=_date(item.get("date_debut")),
        end_date=_date(item.get("date_fin")),
        enrolled=item.get("est_inscrit"),
        training_regime=regime.get("libelle"),
        institution_name=institution.get("nom"),
        institution_uai=institution.get("uai"),
        city_code=item.get("code_cog_insee_commune"),
    )


def _date(value: Any) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


# API Particulier's "Erreur du fournisseur" (502) for one identity: CNAF, MESRI.
PROVIDER_ERRORS = frozenset({"23999", "25999"})


def provider_error(response: httpx.Response) -> bool:
    """A 502 in API Particulier's own error envelope, naming a provider error: about the
    one person asked for, not the upstream's failure (no retry, no circuit)."""
    if response.status_code != 502:
        return False
    try:
        errors = response.json()["errors"]
        codes = {str(error["code"]) for error in errors}
    except (ValueError, KeyError, TypeError):
        return False
    return bool(codes) and codes <= PROVIDER_ERRORS


def connect(settings: Settings) -> ApiParticulierConnector:
    client = UpstreamClient(
        ClientConfig.of(SOURCE, settings),
        subject_error=provider_error,
        in_flight_status=IN_FLIGHT,
    )
    return ApiParticulierConnector(client)


UPSTREAM = Upstream(
    name=SOURCE,
    operations=(
        # Fetched with a habilitation's token and SIRET: never served to another one.
        Operation(
            "family_quotient",
            SOURCE,
            lambda cache: cache.family_quotient_ttl_s,
            per_caller=True,
        ),
        Operation(
            "student_status",
            SOURCE,
            lambda cache: cache.student_status_ttl_s,
            per_caller=True,
        ),
    ),
    connect=connect,
    sandbox_path="/api-particulier",
    credential=lambda access: (
        access.api_particulier.token_id if access.api_particulier else ""
    ),
    citizen_key="identity",
)
