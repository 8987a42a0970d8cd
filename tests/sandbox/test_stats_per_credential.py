"""`GET /_sandbox/stats` counts each upstream's calls per accepted credential, under its public
id: the API Particulier token's `jti`, the DGFiP OAuth `client_id`; never a secret."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import (
    ONE_YEAR,
    QF,
    STUDENT,
    TWO_YEARS,
    dgfip_client,
    dgfip_headers_of,
    dgfip_token,
    fixed_identity,
    identity_params,
    mint_token,
)

pytestmark = pytest.mark.anyio
ALICE = "3000000000011"


async def upstream_stats(client: httpx.AsyncClient, upstream: str) -> dict[str, Any]:
    stats: dict[str, Any] = (await client.get("/_sandbox/stats")).json()["upstreams"]
    return dict(stats[upstream])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_particulier_calls_are_counted_per_token_jti(
    client: httpx.AsyncClient,
) -> None:
    alice = identity_params(await fixed_identity(client, ALICE))
    family = await mint_token(client, ["cnaf_quotient_familial"])
    student = await mint_token(client, ["mesri_identite", "mesri_inscription"])
    for _ in range(2):
        await client.get(QF, params=alice, headers=bearer(family["token"]))
    await client.get(STUDENT, params=alice, headers=bearer(student["token"]))
    refused = await client.get(QF, params=alice, headers=bearer(student["token"]))
    assert refused.status_code == 403  # a valid token without the scope still counts
    await client.get(QF, params=alice)  # no token
    await client.get(QF, params=alice, headers=bearer("forged"))
    stats = await upstream_stats(client, "api_particulier")
    assert stats["calls"] == 6
    assert stats["credentials"] == {family["jti"]: 2, student["jti"]: 2}
    assert family["token"] not in str(stats)


async def test_dgfip_calls_are_counted_per_client_id_token_requests_included(
    client: httpx.AsyncClient,
) -> None:
    narrow = await dgfip_client(client, ["RessourceIR"])
    wide = await dgfip_client(client)
    narrow_headers = await dgfip_headers_of(client, narrow)
    wide_headers = await dgfip_headers_of(client, wide)
    await client.get(ONE_YEAR.format(spi=ALICE, year=2025), headers=narrow_headers)
    await client.get(TWO_YEARS.format(spi=ALICE), headers=narrow_headers)  # 403
    await client.get(TWO_YEARS.format(spi=ALICE), headers=wide_headers)
    await dgfip_token(client, narrow | {"client_secret": "wrong"})
    await client.get(TWO_YEARS.format(spi=ALICE))  # no token
    stats = await upstream_stats(client, "dgfip")
    assert stats["calls"] == 7
    assert stats["credentials"] == {narrow["client_id"]: 3, wide["client_id"]: 2}
    assert narrow["client_secret"] not in str(stats)
    assert wide_headers["Authorization"].removeprefix("Bearer ") not in str(stats)


async def test_ban_counts_no_credentials(client: httpx.AsyncClient) -> None:
    await client.get("/ban/search/", params={"q": "rennes"})
    stats = await upstream_stats(client, "ban")
    assert (stats["calls"], stats["credentials"]) == (1, {})


async def test_stats_reset_zeroes_the_credential_counts(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    await dgfip_token(client, credentials["dgfip"])
    assert (await upstream_stats(client, "dgfip"))["credentials"] == {
        "citizen-graph-sandbox": 1
    }
    assert (await client.delete("/_sandbox/stats")).status_code == 204
    assert (await upstream_stats(client, "dgfip"))["credentials"] == {}
