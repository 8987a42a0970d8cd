"""DGFiP API Impôt particulier: income-tax situations by fiscal number (SPI).

OAuth2 client credentials (token cached until shortly before it expires, renewed on 401), a fresh
`X-Correlation-ID` on every call. The `deuxans` route gives the two latest income years in one
call: the gateway's default tax notice, the declarant's identity and the tax address all come
from it.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from citizen_graph.access import Access, DgfipCredential
from citizen_graph.connectors._client import (
    ClientConfig,
    UpstreamClient,
    json_body,
    unexpected_status,
    unreadable_answer,
)
from citizen_graph.connectors.upstream import Operation, Upstream
from citizen_graph.errors import BadUserInput, Forbidden, NotFound, UpstreamUnavailable
from citizen_graph.records import Declarant, TaxAddress, TaxHistory, TaxSituation
from citizen_graph.settings import Settings

SOURCE = "dgfip"
ROOT = "/impotparticulier/1.0"
TOKEN_MARGIN_S = 60.0
# The OAuth scopes of the routes used: `annrev` (RessourceIR) and `deuxans` (…Derniere2).
SCOPES = ("RessourceIR", "RessourceIRDerniere2")

# sitFam codes → FamilySituation
FAMILY_SITUATIONS = {
    "C": "SINGLE",
    "M": "MARRIED",
    "O": "CIVIL_UNION",
    "D": "DIVORCED",
    "V": "WIDOWED",
}


class ClientCredentials(httpx.Auth):
    """OAuth2 client-credentials flow with a cached token, renewed once on a 401."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...] = (),
    ) -> None:
        self._token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": " ".join(scopes or SCOPES),
        }
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("the DGFiP connector is asynchronous")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in (1, 2):
            if attempt == 2 or not self._valid():
                async with self._lock:
                    if attempt == 2 or not self._valid():
                        token_response = yield self._token_request()
                        await token_response.aread()
                        self._store(token_response)
            request.headers["Authorization"] = f"Bearer {self._token}"
            response = yield request
            if response.status_code != 401:
                return
            self._token = None

    def _valid(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    def _token_request(self) -> httpx.Request:
        return httpx.Request("POST", self._token_url, data=self._form)

    def _store(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise UpstreamUnavailable(
                SOURCE, "The upstream refused the gateway's credentials."
            )
        body = json_body(response, SOURCE)
        try:
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 300))
        except (KeyError, TypeError, ValueError):
            raise unreadable_answer(SOURCE) from None
        self._expires_at = time.monotonic() + max(
            lifetime - TOKEN_MARGIN_S, lifetime / 2
        )


class DgfipConnector:
    source = SOURCE

    def __init__(self, client: UpstreamClient, teleservice_id: str) -> None:
        self.client = client
        self._teleservice_id = teleservice_id
        self._token_url = client.config.base_url.rstrip("/") + "/token"
        # One token cache per habilitation's OAuth client (never shared by client id
        # alone: two habilitations naming one client id keep their own secrets).
        self._flows: dict[str, ClientCredentials] = {}

    async def tax_history(self, fiscal_number: str, access: Access) -> TaxHistory:
        """The situations of the two latest income years, most recent first."""
        path = f"{ROOT}/spi/{fiscal_number}/dernieresituation/ir/assiettes/deuxans"
        body = await self._get("tax_history", path, access)
        items = body if isinstance(body, list) else [body]
        situations = tuple(
            sorted(
                (_situation(item, None) for item in items),
                key=lambda s: s.income_year,
                reverse=True,
            )
        )
        if not situations:
            raise NotFound(SOURCE, "No tax notice was found for this person.")
        return TaxHistory(situations)

    async def tax_situation(
        self, fiscal_number: str, income_year: int, access: Access
    ) -> TaxSituation:
        path = (
            f"{ROOT}/spi/{fiscal_number}/situations/ir/assiettes/annrev/{income_year}"
        )
        return _situation(await self._get("tax_situation", path, access), income_year)

    def _flow(
        self, habilitation: str, credential: DgfipCredential
    ) -> ClientCredentials:
        flow = self._flows.get(habilitation)
        if flow is None:
            flow = ClientCredentials(
                self._token_url,
                credential.client_id,
                str(credential.client_secret),
                credential.scopes,
            )
            self._flows[habilitation] = flow
        return flow

    async def _get(self, operation: str, path: str, access: Access) -> Any:
        credential = access.dgfip
        if credential is None:  # the decision keeps these fields from running
            raise Forbidden("The habilitation holds no DGFiP client.")
        headers = {
            "X-Correlation-ID": str(uuid.uuid4()),
            "ID_Teleservice": self._teleservice_id,
            "Accept": "application/json",
        }
        response = await self.client.request(
            operation,
            "GET",
            path,
            headers=headers,
            credential=credential.client_id,
            habilitation=access.habilitation,
            auth=self._flow(access.habilitation, credential),
        )
        if response.status_code == 200:
            return json_body(response, SOURCE)
        raise _error(response)


def _error(response: httpx.Response) -> Exception:
    status = response.status_code
    code = _codeapp(response)
    if status == 410 and code == "4101":
        return NotFound(SOURCE, "No tax notice exists for that income year.")
    if status == 410:
        return NotFound(SOURCE)
    if status == 400 and code in {"4001", "4002"}:
        return BadUserInput("The fiscal number or income year is not valid.")
    return unexpected_status(SOURCE, response)


def _codeapp(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("codeapp")) if isinstance(body, dict) else None


def _situation(item: Any, income_year: int | None) -> TaxSituation:
    try:
        year = int(item.get("annRevenu") or income_year or 0)
        return TaxSituation(
            income_year=year,
            reference_tax_income=_int(item.get("rfr")),
            shares=_float(item.get("nbPart")),
            family_situation=FAMILY_SITUATIONS.get(str(item.get("sitFam"))),
            dependents=_int((item.get("pac") or {}).get("nbPac")),
            gross_income=_int(item.get("revenuBrutGlobal")),
            taxable_income=_int(item.get("revImposable")),
            tax_before_corrections=_int(item.get("impAvImput")),
            tax_amount=_int(item.get("montTotIr")),
            issued_on=_french_date(item.get("datEtab")),
            collected_on=_french_date(item.get("datRec")),
            declarants=tuple(
                d for d in (_declarant(item, "1"), _declarant(item, "2")) if d
            ),
            address=_address(item),
        )
    except (AttributeError, TypeError, ValueError):
        raise unreadable_answer(SOURCE) from None


def _declarant(item: dict[str, Any], n: str) -> Declarant | None:
    birth_name = item.get(f"nmNaiDec{n}")
    if not birth_name:
        return None
    return Declarant(
        fiscal_number=item.get(f"spiDec{n}"),
        birth_name=birth_name,
        usage_name=item.get(f"nmUsaDec{n}") or None,
        given_names=tuple(str(item.get(f"prnmDec{n}") or "").split()),
        birth_date=_birth_date(item.get(f"dateNaisDec{n}")),
        birth_place=item.get(f"lieuNaissDec{n}") or None,
        birth_department=item.get(f"dptNaissDec{n}") or None,
    )


def _address(item: dict[str, Any]) -> TaxAddress | None:
    label = item.get("aft")
    if not label:
        return None
    detail = item.get("aftDetail") or {}
    return TaxAddress(
        label=str(label),
        street_line=detail.get("voie") or None,
        complement=detail.get("complementAdresse") or None,
        postcode=detail.get("getcodePostal") or None,
        city=detail.get("getcommune") or None,
    )


def _birth_date(value: Any) -> datetime.date | None:
    if not value:
        return None
    return datetime.date(int(value["annee"]), int(value["mois"]), int(value["jour"]))


def _french_date(value: Any) -> datetime.date | None:
    if not value:
        return None
    day, month, year = str(value).split("/")
    return datetime.date(int(year), int(month), int(day))


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def connect(settings: Settings) -> DgfipConnector:
    client = UpstreamClient(ClientConfig.of(SOURCE, settings))
    return DgfipConnector(client, settings.dgfip.teleservice_id)


UPSTREAM = Upstream(
    name=SOURCE,
    operations=(
        # Fetched with a habilitation's OAuth client: never served to another one.
        Operation(
            "tax_history", SOURCE, lambda cache: cache.tax_ttl_s, per_caller=True
        ),
        Operation(
            "tax_situation", SOURCE, lambda cache: cache.tax_ttl_s, per_caller=True
        ),
    ),
    connect=connect,
    sandbox_path="/dgfip",
    credential=lambda access: access.dgfip.client_id if access.dgfip else "",
    citizen_key="fiscal_number",
)
