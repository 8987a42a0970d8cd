"""Simulated API Particulier v3: quotient familial (CNAF/MSA) and statut étudiant (MESRI)."""

from __future__ import annotations

import asyncio
import datetime
import re
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox import openapi
from citizen_graph.sandbox.admin import admin_error
from citizen_graph.sandbox.family_quotient import SCOPES as FAMILY_QUOTIENT_SCOPES
from citizen_graph.sandbox.family_quotient import family_quotient, period
from citizen_graph.sandbox.identity import Params, one, pivot_identity
from citizen_graph.sandbox.latency import Latency, Lognormal
from citizen_graph.sandbox.magic import FAILING_BIRTH_PLACES
from citizen_graph.sandbox.particulier_errors import (
    CNAF,
    GENERIC,
    MESRI,
    ApiError,
    status_error,
)
from citizen_graph.sandbox.particulier_tokens import (
    ALL_SCOPES,
    TOKEN_LIFETIME_S,
    Claims,
    IssuedToken,
    TokenAuthority,
)
from citizen_graph.sandbox.population import IdentityQuery, Population, Resident
from citizen_graph.sandbox.ratelimit import RollingWindow, Verdict
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.student_status import SCOPES as STUDENT_SCOPES
from citizen_graph.sandbox.student_status import student_status
from citizen_graph.sandbox.upstream import SimulatedUpstream, World

# Every call goes through the same steps as the real platform: JWT (401), 20 requests per rolling
# second per token (429), identical request in flight (409), scopes (403), `recipient` (422),
# identity (422), then the provider (latency, magic failures, 404). Every answer carries
# `X-Request-ID` and `RateLimit-*`; a `data` block the token has no scope for is absent.
# Testers mint tokens with chosen scopes with `POST /_sandbox/api-particulier/tokens`.

NAME = "api_particulier"
QF_PATH = "/api-particulier/v3/dss/quotient_familial/identite"
STUDENT_PATH = "/api-particulier/v3/mesri/statut_etudiant/identite"
RATE_LIMIT = 20  # requests per rolling second, per token
MAX_EXPIRES_IN_S = 10 * 365 * 86_400
SIRET = re.compile(r"[0-9]{14}")
Answer = Callable[[Request, Claims], Awaitable[dict[str, Any]]]
FlightKey = tuple[str, str, tuple[tuple[str, str], ...]]


class ApiParticulier:
    def __init__(
        self, population: Population, runtime: Runtime, today: datetime.date
    ) -> None:
        self._population = population
        self._runtime = runtime
        self._today = today
        self.tokens = TokenAuthority()
        self._limits = RollingWindow(RATE_LIMIT)
        runtime.on_reset(self._limits.clear)
        self._in_flight: set[FlightKey] = set()
        # One long-lived token with every scope, the same for every tester of this app.
        self._default = self.tokens.mint(ALL_SCOPES, TOKEN_LIFETIME_S)
        self._named: dict[str, tuple[frozenset[str], IssuedToken]] = {}

    @classmethod
    def build(cls, world: World) -> ApiParticulier:
        return cls(world.population, world.runtime, world.today)

    def routes(self) -> list[BaseRoute]:
        runtime, fail = self._runtime, self.failure
        return [
            runtime.route(NAME, "GET", QF_PATH, self._endpoint(self._qf), fail),
            runtime.route(
                NAME, "GET", STUDENT_PATH, self._endpoint(self._student), fail
            ),
        ]

    def credentials(self) -> dict[str, str]:
        return {"token": self._default.token}

    def admin_routes(self) -> list[BaseRoute]:
        return [Route("/_sandbox/api-particulier/tokens", self.mint, methods=["POST"])]

    async def mint(self, request: Request) -> Response:
        """`POST /_sandbox/api-particulier/tokens` `{"scopes": [...], "expires_in": s,
        "name": n}` → `{"token": JWT, "jti": its public id}`; a negative `expires_in` mints
        it expired. With a `name`, asking again gives the same token (every replica of a
        gateway in sandbox mode then holds the same demo credentials)."""
        try:
            body = await request.json()
        except ValueError:
            return admin_error("Invalid JSON.")
        if not isinstance(body, dict) or set(body) - {"scopes", "expires_in", "name"}:
            return admin_error(
                'Expected {"scopes": [...], "expires_in": seconds, "name": text}.'
            )
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            return admin_error("name must be a string.")
        scopes = body.get("scopes")
        expires_in = body.get("expires_in", TOKEN_LIFETIME_S)
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            return admin_error("scopes must be a list of strings.")
        valid_int = isinstance(expires_in, int) and not isinstance(expires_in, bool)
        if not valid_int or abs(expires_in) > MAX_EXPIRES_IN_S:
            return admin_error(
                "expires_in must be an integer number of seconds (negative: expired)."
            )
        named = self._named.get(name) if name is not None else None
        if named is not None and named[0] != frozenset(scopes):
            return admin_error("A token of this name has other scopes.", 409)
        issued = named[1] if named else self.tokens.mint(scopes, expires_in)
        if name is not None:
            self._named[name] = (frozenset(scopes), issued)
        return JSONResponse({"token": issued.token, "jti": issued.jti})

    def failure(self, request: Request, status: int) -> Response:
        provider = {QF_PATH: CNAF, STUDENT_PATH: MESRI}.get(request.url.path, GENERIC)
        return self._error(request, status_error(status, provider), None)

    def _endpoint(self, answer: Answer) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            verdict = None
            try:
                claims = self.tokens.verify(request.headers.get("authorization", ""))
                self._runtime.authenticated(request, claims.jti)
                verdict = self._limits.hit(claims.jti)
                if not verdict.allowed:
                    error = status_error(429)
                    error.meta = {"retry_in": verdict.retry_after_s}
                    raise error
                data = await self._once(request, claims, answer)
            except ApiError as error:
                return self._error(request, error, verdict)
            body = {"data": data, "links": {}, "meta": {}}
            return JSONResponse(body, headers=self._headers(request, verdict))

        return endpoint

    async def _once(
        self, request: Request, claims: Claims, answer: Answer
    ) -> dict[str, Any]:
        """Answer, unless an identical request of the same token is still in flight (409)."""
        query = tuple(sorted(request.query_params.multi_items()))
        key = (claims.jti, request.url.path, query)
        if key in self._in_flight:
            raise status_error(409)
        self._in_flight.add(key)
        try:
            return await answer(request, claims)
        finally:
            self._in_flight.discard(key)

    def _error(
        self, request: Request, error: ApiError, verdict: Verdict | None
    ) -> Response:
        headers = self._headers(request, verdict)
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    def _headers(self, request: Request, verdict: Verdict | None) -> dict[str, str]:
        verdict = verdict or self._limits.peek(self._token_id(request))
        headers = {"X-Request-ID": str(uuid.uuid4()), **verdict.headers()}
        if request.url.path == QF_PATH:
            headers["X-Response-Cached"] = "false"
        return headers

    def _token_id(self, request: Request) -> str:
        try:
            return self.tokens.verify(request.headers.get("authorization", "")).jti
        except ApiError:
            return ""

    async def _qf(self, request: Request, claims: Claims) -> dict[str, Any]:
        scopes = _held(claims, FAMILY_QUOTIENT_SCOPES)
        params = _params(request)
        query = pivot_identity(
            params, self._today, full_birth_date=False, birth_country=True
        )
        year, month = period(params, self._today)
        await self._provider(params, CNAF)
        resident = self._match(query, params)
        if resident is None or resident.household.family_file is None:
            raise ApiError(
                404,
                "35003",
                "Allocataire inconnu",
                "Aucun allocataire n'a été trouvé à la CNAF ni à la MSA.",
            )
        return family_quotient(resident.household, year, month, self._today, scopes)

    async def _student(self, request: Request, claims: Claims) -> dict[str, Any]:
        scopes = _held(claims, STUDENT_SCOPES)
        params = _params(request)
        query = pivot_identity(
            params, self._today, full_birth_date=True, birth_country=False
        )
        await self._provider(params, MESRI)
        resident = self._match(query, params)
        spi = resident.person.fiscal_number if resident else None
        study = self._population.studies.get(spi or "")
        if resident is None or study is None:
            raise ApiError(
                404,
                "25003",
                "Étudiant non trouvé",
                "Aucun étudiant n'a pu être trouvé avec ces critères.",
            )
        return student_status(resident.person, study, self._today, scopes)

    async def _provider(self, params: Params, provider: str) -> None:
        """The call to the data provider: magic birth places fail at once, else it takes time
        (and sometimes times out, in the realistic profile)."""
        magic = FAILING_BIRTH_PLACES.get(
            one(params, "codeCogInseeCommuneNaissance") or ""
        )
        if magic is not None:
            raise status_error(magic, provider)
        await self._runtime.work(NAME)
        if self._runtime.times_out(NAME):
            await asyncio.sleep(self._runtime.latency.of(NAME).timeout_s)
            raise status_error(504, provider)

    def _match(self, query: IdentityQuery, params: Params) -> Resident | None:
        matches = self._population.find(query)
        if len(matches) > 1:
            place = one(params, "codeCogInseeCommuneNaissance")
            matches = [m for m in matches if m.person.birth_place.commune_code == place]
        if len(matches) > 1:
            raise ApiError(
                422,
                "00391",
                "Identité ambiguë",
                "L'identité correspond à plusieurs personnes.",
            )
        return matches[0] if matches else None


def _held(claims: Claims, endpoint_scopes: Collection[str]) -> set[str]:
    held = set(claims.scopes & set(endpoint_scopes))
    if not held:
        raise status_error(403)
    return held


def _params(request: Request) -> Params:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    recipient = one(params, "recipient")
    if recipient is None:
        raise ApiError(
            422,
            "00203",
            "Paramètre manquant",
            "Le paramètre recipient est obligatoire.",
            parameter="recipient",
        )
    if not SIRET.fullmatch(recipient):
        raise ApiError(
            422,
            "00204",
            "Paramètre invalide",
            "Le paramètre recipient doit être un SIRET (14 chiffres).",
            parameter="recipient",
        )
    return params


API_PARTICULIER = SimulatedUpstream(
    name=NAME,
    prefix="/api-particulier",
    build=ApiParticulier.build,
    openapi=openapi.api_particulier,
    latency={
        "realistic": Latency(
            Lognormal.with_p95(0.3, 1.5), timeout_rate=0.01, timeout_s=10.0
        )
    },
)
