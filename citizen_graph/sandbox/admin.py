"""`/_sandbox`: the test-data catalogue, call statistics, fault injection, OpenAPI documents
and credentials of every registered upstream, plus each upstream's own helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox.faults import Fault, FaultError
from citizen_graph.sandbox.population import KNOWN_BY, Population, Resident
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.upstream import SimulatedUpstream, Upstream

# Each upstream's own helpers: API Particulier's `POST /_sandbox/api-particulier/tokens`,
# DGFiP's `POST /_sandbox/dgfip/clients` and `POST /_sandbox/dgfip/revoke-tokens`,
# documented on their handlers. Not an upstream: never counted, never faulty.

MAX_LIMIT = 1000


class Admin:
    """The routes shared by every upstream, read from the registry; each upstream adds its
    own helpers (`Upstream.admin_routes`)."""

    def __init__(
        self,
        population: Population,
        runtime: Runtime,
        declarations: Sequence[SimulatedUpstream],
        upstreams: Mapping[str, Upstream],
    ) -> None:
        self._population = population
        self._runtime = runtime
        self._declarations = {d.name: d for d in declarations}
        self._upstreams = upstreams

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sandbox/citizens", self.citizens),
            Route("/_sandbox/stats", self.stats, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults", self.faults, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults/{upstream}", self.fault, methods=["PUT", "DELETE"]),
            Route("/_sandbox/openapi/{upstream}.json", self.openapi),
            Route("/_sandbox/credentials", self.credentials),
            *(r for u in self._upstreams.values() for r in u.admin_routes()),
        ]

    async def citizens(self, request: Request) -> Response:
        params = request.query_params
        limit, offset = params.get("limit", "100"), params.get("offset", "0")
        if not (limit.isdigit() and offset.isdigit() and int(limit) <= MAX_LIMIT):
            return admin_error(
                f"limit must be an integer in 0..{MAX_LIMIT}, offset an integer >= 0."
            )
        known_by = params.get("known_by")
        if known_by is not None and known_by not in KNOWN_BY:
            return admin_error(f"known_by must be one of {', '.join(KNOWN_BY)}.")
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
        if upstream not in self._declarations:
            return self._unknown()
        if request.method == "DELETE":
            self._runtime.faults.pop(upstream, None)
            return Response(status_code=204)
        try:
            fault = Fault.parse(await request.json())
        except ValueError as error:  # FaultError, or a body that is not JSON
            message = str(error) if isinstance(error, FaultError) else "Invalid JSON."
            return admin_error(message)
        self._runtime.faults[upstream] = fault
        return JSONResponse({upstream: fault.as_json()})

    async def openapi(self, request: Request) -> Response:
        declaration = self._declarations.get(request.path_params["upstream"])
        if declaration is None:
            return self._unknown()
        return JSONResponse(declaration.openapi())

    async def credentials(self, request: Request) -> Response:
        entries = {name: u.credentials() for name, u in self._upstreams.items()}
        return JSONResponse({k: dict(v) for k, v in entries.items() if v is not None})

    def _unknown(self) -> Response:
        names = ", ".join(self._declarations)
        return JSONResponse({"error": f"Unknown upstream: {names}."}, 404)


def admin_error(message: str, status: int = 400) -> Response:
    """A refused `/_sandbox` request: `{"error": message}`."""
    return JSONResponse({"error": message}, status_code=status)
