"""API Particulier v3 access rules: JWT, scopes, recipient, rate limit, in-flight duplicates,
and the headers every answer carries."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx
import jwt
import pytest

from tests.sandbox.helpers import (
    QF,
    STUDENT,
    Query,
    fixed_identity,
    identity_params,
    mint,
    mint_token,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Query:
    return identity_params(await fixed_identity(client, "3000000000011"))


def first_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    assert set(error) == {"code", "title", "detail", "source", "meta"}
    return error


async def test_missing_token_gets_401(client: httpx.AsyncClient, alice: Query) -> None:
    response = await client.get(QF, params=alice)
    assert response.status_code == 401
    assert first_error(response)["code"] == "00101"


async def test_forged_token_gets_401(client: httpx.AsyncClient, alice: Query) -> None:
    headers = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged"}
    response = await client.get(QF, params=alice, headers=headers)
    assert first_error(response)["code"] == "00101"


async def test_expired_token_gets_00103(
    client: httpx.AsyncClient, alice: Query
) -> None:
    headers = await mint(client, ["cnaf_quotient_familial"], expires_in=-60)
    response = await client.get(QF, params=alice, headers=headers)
    assert response.status_code == 401
    assert first_error(response)["code"] == "00103"


async def test_token_without_qf_scope_gets_403(
    client: httpx.AsyncClient, alice: Query
) -> None:
    headers = await mint(client, ["mesri_identite"])
    response = await client.get(QF, params=alice, headers=headers)
    assert response.status_code == 403
    assert first_error(response)["code"] == "00100"


async def test_minted_token_comes_with_its_public_jti(
    client: httpx.AsyncClient,
) -> None:
    minted = await mint_token(client, ["cnaf_quotient_familial"])
    assert set(minted) == {"token", "jti"}
    claims = jwt.decode(minted["token"], options={"verify_signature": False})
    assert claims["jti"] == minted["jti"]
    assert claims["scopes"] == ["cnaf_quotient_familial"]


async def test_token_without_any_student_scope_gets_403(
    client: httpx.AsyncClient,
) -> None:
    camille = identity_params(await fixed_identity(client, "3000000000021"))
    headers = await mint(client, ["cnaf_quotient_familial", "cnaf_enfants"])
    response = await client.get(STUDENT, params=camille, headers=headers)
    assert response.status_code == 403
    assert first_error(response)["code"] == "00100"


async def test_quotient_only_token_gets_the_quotient_block_alone(
    client: httpx.AsyncClient, alice: Query
) -> None:
    headers = await mint(client, ["cnaf_quotient_familial"])
    response = await client.get(QF, params=alice, headers=headers)
    assert response.status_code == 200
    assert set(response.json()["data"]) == {"quotient_familial"}  # absent, not null


async def test_block_without_scope_is_absent(
    client: httpx.AsyncClient, alice: Query
) -> None:
    headers = await mint(client, ["cnaf_quotient_familial", "cnaf_enfants"])
    response = await client.get(QF, params=alice, headers=headers)
    assert response.status_code == 200
    assert set(response.json()["data"]) == {"quotient_familial", "enfants"}


async def test_student_sub_blocks_follow_their_scopes(
    client: httpx.AsyncClient,
) -> None:
    camille = identity_params(await fixed_identity(client, "3000000000021"))
    headers = await mint(client, ["mesri_inscription", "mesri_etablissements"])
    data = (await client.get(STUDENT, params=camille, headers=headers)).json()["data"]
    assert set(data) == {"admissions"}
    admission = data["admissions"][0]
    assert "etablissement_etudes" in admission
    assert "regime_formation" not in admission


async def test_missing_recipient_gets_00203(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    params = [p for p in alice if p[0] != "recipient"]
    response = await client.get(QF, params=params, headers=ap_headers)
    assert response.status_code == 422
    error = first_error(response)
    assert (error["code"], error["source"]) == ("00203", {"parameter": "recipient"})


async def test_recipient_that_is_not_a_siret_gets_00204(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    params = [p for p in alice if p[0] != "recipient"] + [("recipient", "1234")]
    response = await client.get(QF, params=params, headers=ap_headers)
    assert response.status_code == 422
    assert first_error(response)["code"] == "00204"


async def test_every_answer_carries_request_id_and_rate_limit_headers(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    ok = await client.get(QF, params=alice, headers=ap_headers)
    refused = await client.get(QF, params=alice)
    for response in (ok, refused):
        uuid.UUID(response.headers["X-Request-ID"])
        assert response.headers["RateLimit-Limit"] == "20"
        assert int(response.headers["RateLimit-Reset"]) > 1_700_000_000
        assert response.headers["X-Response-Cached"] == "false"
    assert ok.headers["RateLimit-Remaining"] == "19"
    assert ok.headers["X-Request-ID"] != refused.headers["X-Request-ID"]


async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    statuses = [
        (await client.get(QF, params=alice, headers=ap_headers)).status_code
        for _ in range(20)
    ]
    response = await client.get(QF, params=alice, headers=ap_headers)
    assert statuses == [200] * 20
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["RateLimit-Remaining"] == "0"
    error = first_error(response)
    assert error["code"] == "00429"
    assert error["meta"]["retry_in"] >= 1


async def test_rate_limit_counts_per_token(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    for _ in range(20):
        await client.get(QF, params=alice, headers=ap_headers)
    other = await mint(client, ["cnaf_quotient_familial"])
    assert (await client.get(QF, params=alice, headers=ap_headers)).status_code == 429
    assert (await client.get(QF, params=alice, headers=other)).status_code == 200


async def test_identical_inflight_request_gets_409(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    await client.put("/_sandbox/faults/api_particulier", json={"latency_ms": 300})
    statuses: list[int] = []

    async def call() -> None:
        statuses.append(
            (await client.get(QF, params=alice, headers=ap_headers)).status_code
        )

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        await anyio.sleep(0.05)
        group.start_soon(call)
    assert sorted(statuses) == [200, 409]


async def test_different_requests_may_run_together(
    client: httpx.AsyncClient, ap_headers: dict[str, str], alice: Query
) -> None:
    await client.put("/_sandbox/faults/api_particulier", json={"latency_ms": 200})
    statuses: list[int] = []

    async def call(params: Query) -> None:
        statuses.append(
            (await client.get(QF, params=params, headers=ap_headers)).status_code
        )

    async with anyio.create_task_group() as group:
        group.start_soon(call, alice)
        group.start_soon(call, [*alice, ("annee", "2026"), ("mois", "10")])
    assert statuses == [200, 200]
