"""Simulated DGFiP API Impôt particulier: OAuth2 client credentials and the IR situation routes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import json
import re
from types import MappingProxyType
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox import openapi
from citizen_graph.sandbox.admin import admin_error
from citizen_graph.sandbox.dgfip_oauth import (
    CLIENT_ID,
    CLIENT_SECRET,
    MAX_CLIENTS,
    SCOPES,
    TOKEN_LIFETIME_S,
    Client,
    OAuthServer,
    ScopeError,
    parse_scopes,
    scope_string,
)
from citizen_graph.sandbox.latency import Latency, Lognormal
from citizen_graph.sandbox.magic import FAILING_SPIS, HANG_S, HANGING_SPI
from citizen_graph.sandbox.people import Household
from citizen_graph.sandbox.population import Population
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.tax_notice import latest_income_year, situation
from citizen_graph.sandbox.upstream import SimulatedUpstream, World

# Every data call needs `Authorization: Bearer <token from POST /dgfip/token>` holding the route's
# scope (`RessourceIR`, `RessourceIRDerniere2`) and an `X-Correlation-ID` UUID (echoed back);
# errors are `{"codeapp", "message"}` bodies that never repeat the fiscal number. Testers
# register more OAuth clients with `POST /_sandbox/dgfip/clients`.

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DGFIP", "TOKEN_LIFETIME_S", "Dgfip"]
NAME = "dgfip"
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
        self._oauth = OAuthServer()
        self._named: dict[str, Client] = {}

    @classmethod
    def build(cls, world: World) -> Dgfip:
        return cls(world.population, world.runtime, world.today)

    def routes(self) -> list[BaseRoute]:
        runtime, fail = self._runtime, self.failure
        return [
            runtime.route(
                NAME, "POST", "/dgfip/token", self.token, fail, outage_only=True
            ),
            runtime.route(NAME, "GET", SITUATION_PATH, self.situation, fail),
            runtime.route(NAME, "GET", TWO_YEARS_PATH, self.two_years, fail),
        ]

    def credentials(self) -> dict[str, str]:
        """The default client: it holds every scope."""
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    def admin_routes(self) -> list[BaseRoute]:
        return [
            Route("/_sandbox/dgfip/clients", self.register, methods=["POST"]),
            Route("/_sandbox/dgfip/revoke-tokens", self.revoke, methods=["POST"]),
        ]

    async def register(self, request: Request) -> Response:
        """`POST /_sandbox/dgfip/clients` `{"scopes": [...], "name": n}` (both optional;
        default: every scope) → `{"client_id", "client_secret"}`: a new OAuth client of
        this app; with a `name`, asking again gives the same client."""
        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return admin_error("Invalid JSON.")
        if not isinstance(body, dict) or set(body) - {"scopes", "name"}:
            return admin_error('Expected {"scopes": [...], "name": text}.')
        names = body.get("scopes", list(SCOPES))
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            return admin_error("scopes must be a list of strings.")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            return admin_error("name must be a string.")
        try:
            scopes = parse_scopes(names)
            named = self._named.get(name) if name is not None else None
            if named is not None and named.scopes != scopes:
                return admin_error("A client of this name has other scopes.", 409)
            client = named or self._oauth.register(scopes)
        except ScopeError as error:
            return admin_error(str(error))
        except OverflowError:
            return admin_error(
                f"This sandbox holds {MAX_CLIENTS} clients already.", 409
            )
        if name is not None:
            self._named[name] = client
        return JSONResponse(
            {"client_id": client.client_id, "client_secret": client.secret}
        )

    async def revoke(self, request: Request) -> Response:
        """`POST /_sandbox/dgfip/revoke-tokens` → `{"revoked": n}`: every client's tokens."""
        return JSONResponse({"revoked": self._oauth.revoke()})

    def failure(self, request: Request, status: int) -> Response:
        message = _MESSAGES.get(status, "Erreur technique.")
        return self._error(request, DgfipError(status, f"{status}0", message))

    async def token(self, request: Request) -> Response:
        async with request.form() as form:
            return self._token(request, form)

    def _token(self, request: Request, form: FormData) -> Response:
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, client_secret = _basic(request.headers.get("authorization", "")) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        client = self._oauth.authenticate(client_id, client_secret)
        if client is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self._runtime.authenticated(request, client.client_id)
        issued = self._oauth.issue(client, str(form.get("scope", "")))
        if issued is None:
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        token, access = issued
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "scope": scope_string(access.scopes),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def situation(self, request: Request) -> Response:
        try:
            self._check(request, "RessourceIR")
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
            self._check(request, "RessourceIRDerniere2")
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

    def _check(self, request: Request, scope: str) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        access = self._oauth.verify(token.strip())
        if scheme.lower() != "bearer" or access is None:
            raise DgfipError(401, "4010", _MESSAGES[401])
        self._runtime.authenticated(request, access.client_id)
        if scope not in access.scopes:
            raise DgfipError(
                403, "4031", f"Accès refusé : le jeton n'a pas le scope {scope}."
            )
        if not UUID.fullmatch(request.headers.get("x-correlation-id", "")):
            raise DgfipError(
                400, "4000", "L'en-tête X-Correlation-ID (UUID) est obligatoire."
            )
        if not SPI.fullmatch(request.path_params["spi"]):
            raise DgfipError(
                400, "4001", "Le numéro fiscal doit comporter 13 chiffres."
            )

    async def _household(self, request: Request) -> Household:
        await self._runtime.work(NAME)
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


DGFIP = SimulatedUpstream(
    name=NAME,
    prefix="/dgfip",
    build=Dgfip.build,
    openapi=openapi.dgfip,
    latency={"realistic": Latency(Lognormal(0.4, 0.45))},
)
