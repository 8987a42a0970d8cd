"""Simulated DGFiP API Impôt particulier: OAuth2 client credentials and the IR situation routes.

Every data call needs `Authorization: Bearer <token from POST /dgfip/token>` and an
`X-Correlation-ID` UUID (echoed back); errors are `{"codeapp", "message"}` bodies that never
repeat the fiscal number.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import re
import secrets
import time
from types import MappingProxyType
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from citizen_graph.sandbox.magic import FAILING_SPIS, HANG_S, HANGING_SPI
from citizen_graph.sandbox.people import Household
from citizen_graph.sandbox.population import Population
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.tax_notice import latest_income_year, situation

CLIENT_ID = "citizen-graph-sandbox"
CLIENT_SECRET = "sandbox-dgfip-secret-not-for-production"
TOKEN_LIFETIME_S = 3600
ROOT = "/dgfip/impotparticulier/1.0/spi/{spi}"
SITUATION_PATH = ROOT + "/situations/ir/assiettes/annrev/{annrev}"
TWO_YEARS_PATH = ROOT + "/dernieresituation/ir/assiettes/deuxans"
UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
SPI = re.compile(r"[0-9]{13}")
YEAR = re.compile(r"[0-9]{4}")
_MESSAGES = MappingProxyType(
    {
        400: "Requête invalide.",
        401: "Jeton d'accès absent, invalide ou expiré.",
        403: "Accès refusé à cette ressource.",
        404: "Ressource inconnue.",
        410: "Aucune donnée disponible.",
    }
)


class DgfipError(Exception):
    def __init__(self, status: int, codeapp: str, message: str) -> None:
        super().__init__(message)
        self.status, self.codeapp, self.message = status, codeapp, message


class Dgfip:
    def __init__(
        self, population: Population, runtime: Runtime, today: datetime.date
    ) -> None:
        self._population = population
        self._runtime = runtime
        self._today = today
        self._tokens: dict[str, float] = {}  # access token → expiry (monotonic clock)

    def routes(self) -> list[BaseRoute]:
        runtime, fail = self._runtime, self.failure
        return [
            runtime.route(
                "dgfip", "POST", "/dgfip/token", self.token, fail, outage_only=True
            ),
            runtime.route("dgfip", "GET", SITUATION_PATH, self.situation, fail),
            runtime.route("dgfip", "GET", TWO_YEARS_PATH, self.two_years, fail),
            runtime.not_found("dgfip", "/dgfip", fail),
        ]

    def revoke_tokens(self) -> int:
        revoked = len(self._tokens)
        self._tokens.clear()
        return revoked

    def failure(self, request: Request, status: int) -> Response:
        message = _MESSAGES.get(status, "Erreur technique.")
        return self._error(request, DgfipError(status, f"{status}0", message))

    async def token(self, request: Request) -> Response:
        async with request.form() as form:
            return self._token(form, request.headers.get("authorization", ""))

    def _token(self, form: FormData, authorization: str) -> Response:
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, client_secret = _basic(authorization) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        valid_id = secrets.compare_digest(client_id.encode(), CLIENT_ID.encode())
        valid_secret = secrets.compare_digest(
            client_secret.encode(), CLIENT_SECRET.encode()
        )
        if not (valid_id and valid_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        now = time.monotonic()
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = secrets.token_urlsafe(32)
        self._tokens[token] = now + TOKEN_LIFETIME_S
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def situation(self, request: Request) -> Response:
        try:
            self._check(request)
            if not YEAR.fullmatch(request.path_params["annrev"]):
                raise DgfipError(
                    400, "4002", "L'année de revenus doit comporter 4 chiffres."
                )
            household = await self._household(request)
            year, latest = int(request.path_params["annrev"]), self._latest()
            if not latest - 2 <= year <= latest:
                raise DgfipError(
                    410, "4101", "Aucune situation pour cette année de revenus."
                )
        except DgfipError as error:
            return self._error(request, error)
        return self._json(request, situation(household, year))

    async def two_years(self, request: Request) -> Response:
        try:
            self._check(request)
            household = await self._household(request)
        except DgfipError as error:
            return self._error(request, error)
        latest = self._latest()
        years = (latest, latest - 1)
        return self._json(
            request, [situation(household, y) | {"annRevenu": y} for y in years]
        )

    def _latest(self) -> int:
        return latest_income_year(self._today)

    def _check(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self._tokens.get(token.strip())
        if scheme.lower() != "bearer" or expiry is None or expiry < time.monotonic():
            raise DgfipError(401, "4010", _MESSAGES[401])
        if not UUID.fullmatch(request.headers.get("x-correlation-id", "")):
            raise DgfipError(
                400, "4000", "L'en-tête X-Correlation-ID (UUID) est obligatoire."
            )
        if not SPI.fullmatch(request.path_params["spi"]):
            raise DgfipError(
                400, "4001", "Le numéro fiscal doit comporter 13 chiffres."
            )

    async def _household(self, request: Request) -> Household:
        await self._runtime.work("dgfip")
        spi = request.path_params["spi"]
        if spi == HANGING_SPI:
            await asyncio.sleep(HANG_S)
            raise DgfipError(500, "5000", "Erreur technique.")
        if spi in FAILING_SPIS:
            status, codeapp = FAILING_SPIS[spi]
            raise DgfipError(
                status, codeapp, _MESSAGES.get(status, "Erreur technique.")
            )
        resident = self._population.resident(spi)
        if resident is None:
            raise DgfipError(410, "4102", "Numéro fiscal inconnu.")
        return resident.household

    def _json(self, request: Request, body: Any) -> Response:
        return JSONResponse(body, headers=_echo(request))

    def _error(self, request: Request, error: DgfipError) -> Response:
        body = {"codeapp": error.codeapp, "message": error.message}
        return JSONResponse(body, status_code=error.status, headers=_echo(request))


def _echo(request: Request) -> dict[str, str]:
    correlation = request.headers.get("x-correlation-id")
    return {"X-Correlation-ID": correlation} if correlation else {}


def _basic(authorization: str) -> tuple[str, str] | None:
    """client_secret_basic: `Authorization: Basic base64(client_id:client_secret)`."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret
