"""The naive baseline the benchmark compares against: plain resolvers calling httpx per field.

No data loaders, no cache, no coalescing, no client-side rate limit, no parser or validation
cache: what a first version of the gateway typically looks like. It shares the schema's leaf
types and the connectors' JSON translation so that only the fetching strategy differs.
Run: python -m bench.naive --sandbox-url URL --port P
"""

from __future__ import annotations

import argparse
import datetime
import uuid
from typing import Any

import httpx
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL

from citizen_graph.connectors.api_particulier import (
    _family_quotient,
    _identity_params,
    _student_status,
)
from citizen_graph.connectors.ban import _from_feature
from citizen_graph.connectors.dgfip import _situation
from citizen_graph.records import CitizenKey
from citizen_graph.schema.address import Address
from citizen_graph.schema.family import FamilyQuotient
from citizen_graph.schema.identity import Identity
from citizen_graph.schema.inputs import CitizenKeyInput, PivotIdentityInput, citizen_key
from citizen_graph.schema.student import StudentStatus
from citizen_graph.schema.tax import TaxNotice

RECIPIENT = "26350238800011"


class Upstreams:
    def __init__(self, sandbox_url: str) -> None:
        self.url = sandbox_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=10.0)
        self.dgfip_token = ""
        self.particulier_token = ""

    async def start(self) -> None:
        creds = (await self.http.get(f"{self.url}/_sandbox/credentials")).json()
        self.particulier_token = creds["api_particulier"]["token"]
        form = {
            "grant_type": "client_credentials",
            "scope": "RessourceIR",
            **creds["dgfip"],
        }
        token = await self.http.post(f"{self.url}/dgfip/token", data=form)
        self.dgfip_token = token.json()["access_token"]

    async def latest_situation(self, spi: str) -> Any:
        response = await self.http.get(
            f"{self.url}/dgfip/impotparticulier/1.0/spi/{spi}/dernieresituation/ir/assiettes/deuxans",
            headers={
                "Authorization": f"Bearer {self.dgfip_token}",
                "X-Correlation-ID": str(uuid.uuid4()),
            },
        )
        response.raise_for_status()
        return _situation(max(response.json(), key=lambda s: s["annRevenu"]), None)

    async def particulier(self, path: str, key: CitizenKey) -> Any:
        assert key.identity is not None
        response = await self.http.get(
            f"{self.url}/api-particulier{path}",
            params=_identity_params(key.identity, RECIPIENT),
            headers={"Authorization": f"Bearer {self.particulier_token}"},
        )
        response.raise_for_status()
        return response.json()["data"]

    async def geocode(self, label: str) -> Any:
        response = await self.http.get(
            f"{self.url}/ban/search/", params={"q": label, "limit": 1}
        )
        response.raise_for_status()
        features = response.json()["features"]
        return _from_feature(features[0]) if features else None


def upstreams(info: strawberry.Info) -> Upstreams:
    result: Upstreams = info.context["upstreams"]
    return result


@strawberry.type
class Citizen:
    key: strawberry.Private[CitizenKey]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.key.fiscal_number))

    @strawberry.field
    async def identity(self, info: strawberry.Info) -> Identity | None:
        situation = await upstreams(info).latest_situation(str(self.key.fiscal_number))
        declarant = situation.declarant(str(self.key.fiscal_number))
        return Identity.from_record(declarant) if declarant else None

    @strawberry.field
    async def tax_notice(self, info: strawberry.Info) -> TaxNotice | None:
        situation = await upstreams(info).latest_situation(str(self.key.fiscal_number))
        return TaxNotice.from_record(situation)

    @strawberry.field
    async def address(self, info: strawberry.Info) -> Address | None:
        situation = await upstreams(info).latest_situation(str(self.key.fiscal_number))
        geocoded = await upstreams(info).geocode(situation.address.label)
        return Address.from_records(situation.address, geocoded)

    @strawberry.field
    async def family_quotient(self, info: strawberry.Info) -> FamilyQuotient | None:
        data = await upstreams(info).particulier(
            "/v3/dss/quotient_familial/identite", self.key
        )
        return FamilyQuotient.from_record(_family_quotient(data))

    @strawberry.field
    async def student_status(self, info: strawberry.Info) -> StudentStatus | None:
        data = await upstreams(info).particulier(
            "/v3/mesri/statut_etudiant/identite", self.key
        )
        return StudentStatus.from_record(_student_status(data), datetime.date.today())


@strawberry.type
class Query:
    @strawberry.field
    def citizen(
        self,
        fiscal_number: str | None = None,
        identity: PivotIdentityInput | None = None,
    ) -> Citizen | None:
        return Citizen(key=citizen_key(fiscal_number, identity))

    @strawberry.field
    def citizens(self, keys: list[CitizenKeyInput]) -> list[Citizen | None]:
        return [Citizen(key=key.to_record()) for key in keys]


class NaiveView(GraphQL[dict[str, Any], None]):
    def __init__(self, shared: Upstreams) -> None:
        super().__init__(strawberry.Schema(query=Query), graphql_ide=None)
        self.shared = shared

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"upstreams": self.shared}


def create_app(sandbox_url: str) -> Starlette:
    shared = Upstreams(sandbox_url)
    view = NaiveView(shared)

    async def lifespan(app: Starlette) -> Any:
        await shared.start()
        yield
        await shared.http.aclose()

    return Starlette(
        routes=[Route("/graphql", view, methods=["POST"])], lifespan=lifespan
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox-url", required=True)
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.sandbox_url),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )
