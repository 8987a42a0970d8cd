"""`/_sandbox`: catalogue, statistics, faults, OpenAPI documents, credentials and tokens."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from tests.sandbox.helpers import QF, TWO_YEARS, identity_params

pytestmark = pytest.mark.anyio
IDENTITY_KEYS = {
    "birthName", "usageName", "givenNames", "birthDate", "sex", "birthCountryCode",
    "birthPlaceCode",
}  # fmt: skip


async def stats(client: httpx.AsyncClient, upstream: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/_sandbox/stats")).json()
    return dict(body["upstreams"][upstream])


async def test_catalogue_starts_with_the_fixed_citizens(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/_sandbox/citizens", params={"limit": 5})).json()
    assert body["total"] >= 14_000
    assert [c["fiscalNumber"] for c in body["citizens"]] == [
        "3000000000011", "3000000000012", "3000000000021", "3000000000031", "3000000000041",
    ]  # fmt: skip
    assert [c["knownBy"] for c in body["citizens"]] == [
        ["dgfip", "cnaf"], ["dgfip", "cnaf"], ["dgfip", "mesri"], ["dgfip", "msa"], ["dgfip"],
    ]  # fmt: skip
    assert all(set(c["identity"]) == IDENTITY_KEYS for c in body["citizens"])
    paul = body["citizens"][1]["identity"]
    assert (paul["birthCountryCode"], paul["birthPlaceCode"]) == ("99134", None)


async def test_catalogue_pages_and_filters(client: httpx.AsyncClient) -> None:
    first = (await client.get("/_sandbox/citizens", params={"limit": 10})).json()
    second = (
        await client.get("/_sandbox/citizens", params={"limit": 5, "offset": 5})
    ).json()
    assert second["citizens"] == first["citizens"][5:]
    msa = (await client.get("/_sandbox/citizens", params={"known_by": "msa"})).json()
    assert 0 < msa["total"] < first["total"]
    assert all("msa" in c["knownBy"] for c in msa["citizens"])


@pytest.mark.parametrize(
    "params", [{"limit": "1001"}, {"offset": "-1"}, {"known_by": "cpam"}]
)
async def test_catalogue_rejects_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/_sandbox/citizens", params=params)
    assert response.status_code == 400


async def test_stats_count_routes_by_template(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str]
) -> None:
    for spi in ("3000000000011", "3999999999999"):
        await client.get(TWO_YEARS.format(spi=spi), headers=dgfip_headers)
    await client.get("/dgfip/nowhere/3000000000011")
    dgfip = await stats(client, "dgfip")
    assert dgfip["calls"] == 4
    assert dgfip["routes"] == {
        "POST /dgfip/token": 1,
        "GET /dgfip/impotparticulier/1.0/spi/{spi}/dernieresituation/ir/assiettes/deuxans": 2,
        "GET /dgfip/{path}": 1,
    }
    assert dgfip["statuses"] == {"200": 2, "404": 1, "410": 1}
    assert "3000000000011" not in str(dgfip)


async def test_stats_reset_clears_counts_and_rate_limits(
    client: httpx.AsyncClient, ap_headers: dict[str, str]
) -> None:
    for _ in range(21):
        await client.get(QF, headers=ap_headers)
    assert (await stats(client, "api_particulier"))["statuses"]["429"] == 1
    assert (await client.delete("/_sandbox/stats")).status_code == 204
    assert (await stats(client, "api_particulier"))["calls"] == 0
    response = await client.get(QF, headers=ap_headers)
    assert response.status_code == 422  # counted again, no longer limited


async def test_max_in_flight_records_concurrency(client: httpx.AsyncClient) -> None:
    await client.put("/_sandbox/faults/ban", json={"latency_ms": 200})

    async def search() -> None:
        await client.get("/ban/search/", params={"q": "rennes"})

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(search)
    ban = await stats(client, "ban")
    assert ban["max_in_flight"] == 5
    assert ban["statuses"] == {"200": 5}


async def test_outage_fault_answers_503(
    client: httpx.AsyncClient, dgfip_headers: dict[str, str], ap_headers: dict[str, str]
) -> None:
    for upstream in ("dgfip", "api_particulier", "ban"):
        response = await client.put(
            f"/_sandbox/faults/{upstream}", json={"outage": True}
        )
        assert response.status_code == 200
    dgfip = await client.get(
        TWO_YEARS.format(spi="3000000000011"), headers=dgfip_headers
    )
    particulier = await client.get(QF, headers=ap_headers)
    ban = await client.get("/ban/search/", params={"q": "rennes"})
    assert [r.status_code for r in (dgfip, particulier, ban)] == [503, 503, 503]
    assert dgfip.json()["codeapp"] == "5030"
    assert dgfip.headers["X-Correlation-ID"] == dgfip_headers["X-Correlation-ID"]
    assert particulier.json()["errors"][0]["code"] == "23001"
    assert "X-Request-ID" in particulier.headers
    assert ban.json()["code"] == 503


async def test_outage_reaches_the_token_endpoint_but_errors_do_not(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    form = {"grant_type": "client_credentials", **credentials["dgfip"]}
    await client.put("/_sandbox/faults/dgfip", json={"error_rate": 1.0, "status": 500})
    assert (await client.post("/dgfip/token", data=form)).status_code == 200
    await client.put("/_sandbox/faults/dgfip", json={"outage": True})
    assert (await client.post("/dgfip/token", data=form)).status_code == 503


async def test_error_rate_fault_uses_the_given_status(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/_sandbox/faults/ban", json={"error_rate": 1.0, "status": 502})
    response = await client.get("/ban/search/", params={"q": "rennes"})
    assert response.status_code == 502
    assert (
        await client.get("/_sandbox/citizens", params={"limit": 1})
    ).status_code == 200


async def test_latency_fault_delays_answers(client: httpx.AsyncClient) -> None:
    await client.put("/_sandbox/faults/ban", json={"latency_ms": 250})
    started = time.monotonic()
    response = await client.get("/ban/search/", params={"q": "rennes"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25


async def test_faults_are_listed_and_cleared(client: httpx.AsyncClient) -> None:
    await client.put("/_sandbox/faults/ban", json={"latency_ms": 10})
    await client.put("/_sandbox/faults/dgfip", json={"outage": True})
    listed = (await client.get("/_sandbox/faults")).json()["faults"]
    assert listed["ban"] == {
        "latency_ms": 10,
        "error_rate": 0.0,
        "status": 503,
        "outage": False,
    }
    assert set(listed) == {"ban", "dgfip"}
    assert (await client.delete("/_sandbox/faults/ban")).status_code == 204
    assert set((await client.get("/_sandbox/faults")).json()["faults"]) == {"dgfip"}
    await client.delete("/_sandbox/faults")
    assert (await client.get("/_sandbox/faults")).json()["faults"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {"latency_ms": -1},
        {"latency_ms": "10"},
        {"error_rate": 1.5},
        {"status": 200},
        {"outage": "yes"},
        {"colour": "red"},
        [],
    ],
)
async def test_bad_fault_is_rejected(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.put("/_sandbox/faults/ban", json=body)
    assert response.status_code == 400
    assert (await client.get("/_sandbox/faults")).json()["faults"] == {}


async def test_fault_on_unknown_upstream_is_404(client: httpx.AsyncClient) -> None:
    response = await client.put("/_sandbox/faults/cpam", json={"outage": True})
    assert response.status_code == 404


@pytest.mark.parametrize("upstream", ["dgfip", "api_particulier", "ban"])
async def test_openapi_documents_describe_the_routes(
    client: httpx.AsyncClient, upstream: str
) -> None:
    document = (await client.get(f"/_sandbox/openapi/{upstream}.json")).json()
    assert document["openapi"].startswith("3.0")
    assert document["info"]["title"]
    for path, operations in document["paths"].items():
        assert path.startswith("/")
        for operation in operations.values():
            assert "200" in operation["responses"]
    for ref in _refs(document):
        name = ref.removeprefix("#/components/schemas/")
        assert name in document["components"]["schemas"], ref


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_credentials_token_has_every_scope(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    assert credentials["dgfip"] == {
        "client_id": "citizen-graph-sandbox",
        "client_secret": "sandbox-dgfip-secret-not-for-production",
    }
    again = (await client.get("/_sandbox/credentials")).json()
    assert again["api_particulier"]["token"] == credentials["api_particulier"]["token"]
    camille = (await client.get("/_sandbox/citizens", params={"limit": 3})).json()
    headers = {"Authorization": f"Bearer {credentials['api_particulier']['token']}"}
    params = identity_params(camille["citizens"][2]["identity"])
    response = await client.get(
        "/api-particulier/v3/mesri/statut_etudiant/identite",
        params=params,
        headers=headers,
    )
    assert set(response.json()["data"]) == {"identite", "admissions"}


@pytest.mark.parametrize(
    "body", [{"scopes": "cnaf_enfants"}, {"scopes": ["x"], "expires_in": "1"}, {"x": 1}]
)
async def test_bad_token_request_is_rejected(
    client: httpx.AsyncClient, body: Any
) -> None:
    response = await client.post("/_sandbox/api-particulier/tokens", json=body)
    assert response.status_code == 400
