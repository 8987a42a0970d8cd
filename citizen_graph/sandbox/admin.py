"""`/_sandbox`: the test-data catalogue, call statistics, fault injection, OpenAPI documents,
credentials and token helpers for testers. Not an upstream: never counted, never faulty.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox.dgfip import CLIENT_ID, CLIENT_SECRET, Dgfip
from citizen_graph.sandbox.faults import UPSTREAMS, Fault, FaultError
from citizen_graph.sandbox.openapi import DOCUMENTS
from citizen_graph.sandbox.particulier_tokens import (
    ALL_SCOPES,
    TOKEN_LIFETIME_S,
    TokenAuthority,
)
from citizen_graph.sandbox.population import KNOWN_BY, Population, Resident
from citizen_graph.sandbox.runtime import Runtime

MAX_LIMIT = 1000
MAX_EXPIRES_IN_S = 10 * 365 * 86_400


class Admin:
    def __init__(
        self,
        population: Population,
        runtime: Runtime,
        dgfip: Dgfip,
        tokens: TokenAuthority,
    ) -> None:
        self._population = population
        self._runtime = runtime
        self._dgfip = dgfip
        self._tokens = tokens
        # One long-lived token with every scope, the same for every tester of this app.
        self._token = tokens.mint(ALL_SCOPES, TOKEN_LIFETIME_S)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sandbox/citizens", self.citizens),
            Route("/_sandbox/stats", self.stats, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults", self.faults, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults/{upstream}", self.fault, methods=["PUT", "DELETE"]),
            Route("/_sandbox/openapi/{upstream}.json", self.openapi),
            Route("/_sandbox/credentials", self.credentials),
            Route("/_sandbox/api-particulier/tokens", self.mint, methods=["POST"]),
            Route("/_sandbox/dgfip/revoke-tokens", self.revoke, methods=["POST"]),
        ]

    async def citizens(self, request: Request) -> Response:
        params = request.query_params
        limit, offset = params.get("limit", "100"), params.get("offset", "0")
        if not (limit.isdigit() and offset.isdigit() and int(limit) <= MAX_LIMIT):
            return _bad(
                f"limit must be an integer in 0..{MAX_LIMIT}, offset an integer >= 0."
            )
        known_by = params.get("known_by")
        if known_by is not None and known_by not in KNOWN_BY:
            return _bad(f"known_by must be one of {', '.join(KNOWN_BY)}.")
        residents = self._population.catalogue(known_by)
        page = residents[int(offset) : int(offset) + int(limit)]
        citizens = [self._citizen(r) for r in page]
        return JSONResponse({"total": len(residents), "citizens": citizens})

    def _citizen(self, resident: Resident) -> dict[str, Any]:
        person = resident.person
        return {
            "fiscalNumber": person.fiscal_number,
            "identity": {
                "birthName": person.birth_name,
                "usageName": person.usage_name,
                "givenNames": list(person.given_names),
                "birthDate": person.birth_date.isoformat(),
                "sex": person.sex,
                "birthCountryCode": person.birth_place.country_code,
                "birthPlaceCode": person.birth_place.commune_code,
            },
            "knownBy": list(self._population.known_by(resident)),
        }

    async def stats(self, request: Request) -> Response:
        if request.method == "DELETE":
            self._runtime.reset()
            return Response(status_code=204)
        return JSONResponse(self._runtime.stats.as_json())

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self._runtime.faults.clear()
            return Response(status_code=204)
        faults = {name: f.as_json() for name, f in self._runtime.faults.items()}
        return JSONResponse({"faults": faults})

    async def fault(self, request: Request) -> Response:
        upstream = request.path_params["upstream"]
        if upstream not in UPSTREAMS:
            return JSONResponse(
                {"error": f"Unknown upstream: {', '.join(UPSTREAMS)}."}, 404
            )
        if request.method == "DELETE":
            self._runtime.faults.pop(upstream, None)
            return Response(status_code=204)
        try:
            fault = Fault.parse(await request.json())
        except ValueError as error:  # FaultError, or a body that is not JSON
            message = str(error) if isinstance(error, FaultError) else "Invalid JSON."
            return _bad(message)
        self._runtime.faults[upstream] = fault
        return JSONResponse({upstream: fault.as_json()})

    async def openapi(self, request: Request) -> Response:
        document = DOCUMENTS.get(request.path_params["upstream"])
        if document is None:
            return JSONResponse(
                {"error": f"Unknown upstream: {', '.join(UPSTREAMS)}."}, 404
            )
        return JSONResponse(document())

    async def credentials(self, request: Request) -> Response:
        return JSONResponse(
            {
                "dgfip": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                "api_particulier": {"token": self._token},
            }
        )

    async def mint(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _bad("Invalid JSON.")
        if not isinstance(body, dict) or set(body) - {"scopes", "expires_in"}:
            return _bad('Expected {"scopes": [...], "expires_in": seconds}.')
        scopes, expires_in = (
            body.get("scopes"),
            body.get("expires_in", TOKEN_LIFETIME_S),
        )
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            return _bad("scopes must be a list of strings.")
        valid_int = isinstance(expires_in, int) and not isinstance(expires_in, bool)
        if not valid_int or abs(expires_in) > MAX_EXPIRES_IN_S:
            return _bad(
                "expires_in must be an integer number of seconds (negative: expired)."
            )
        return JSONResponse({"token": self._tokens.mint(scopes, expires_in)})

    async def revoke(self, request: Request) -> Response:
        return JSONResponse({"revoked": self._dgfip.revoke_tokens()})


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)
