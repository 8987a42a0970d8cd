"""DGFiP OAuth clients with scopes (`POST /_sandbox/dgfip/clients`): tokens carry the client's
scopes, a route whose scope the token lacks answers 403 codeapp 4031."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import (
    ONE_YEAR,
    TWO_YEARS,
    dgfip_client,
    dgfip_headers_of,
    dgfip_token,
)

pytestmark = pytest.mark.anyio
ALICE = "3000000000011"
EVERY_SCOPE = (
    "RessourceIR RessourceIRDerniere RessourceIRDerniere2 RessourceIRMultiple "
    "RessourceIRFacture RessourceIFI RessourceTHPrincipale RessourceLEP"
)


async def statuses(client: httpx.AsyncClient, headers: dict[str, str]) -> list[int]:
    """The statuses of the one-year (RessourceIR) and two-year (…Derniere2) routes."""
    one = await client.get(ONE_YEAR.format(spi=ALICE, year=2025), headers=headers)
    two = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    return [one.status_code, two.status_code]


async def test_client_registered_without_a_body_holds_every_scope(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/_sandbox/dgfip/clients")
    assert response.status_code == 200
    registered = response.json()
    assert set(registered) == {"client_id", "client_secret"}
    token = (await dgfip_token(client, registered)).json()
    assert token["scope"] == EVERY_SCOPE
    assert await statuses(client, await dgfip_headers_of(client, registered)) == [
        200,
        200,
    ]


async def test_registered_clients_get_fresh_random_credentials(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    first, second = await dgfip_client(client), await dgfip_client(client)
    ids = {first["client_id"], second["client_id"], credentials["dgfip"]["client_id"]}
    assert len(ids) == 3
    assert first["client_secret"] != second["client_secret"]
    assert len(first["client_secret"]) >= 32


async def test_route_outside_the_clients_scopes_answers_4031(
    client: httpx.AsyncClient,
) -> None:
    registered = await dgfip_client(client, ["RessourceIR"])
    assert (await dgfip_token(client, registered)).json()["scope"] == "RessourceIR"
    headers = await dgfip_headers_of(client, registered)
    assert await statuses(client, headers) == [200, 403]
    refused = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
    assert refused.json()["codeapp"] == "4031"
    assert refused.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    assert ALICE not in refused.text
    assert registered["client_secret"] not in refused.text


async def test_client_without_any_scope_is_refused_on_every_route(
    client: httpx.AsyncClient,
) -> None:
    registered = await dgfip_client(client, [])
    assert (await dgfip_token(client, registered)).json()["scope"] == ""
    headers = await dgfip_headers_of(client, registered)
    assert await statuses(client, headers) == [403, 403]


async def test_token_request_scope_narrows_to_the_intersection(
    client: httpx.AsyncClient,
) -> None:
    registered = await dgfip_client(client, ["RessourceIR", "RessourceIRDerniere2"])
    asked = "RessourceIRDerniere2 RessourceLEP"
    assert (await dgfip_token(client, registered, asked)).json()["scope"] == (
        "RessourceIRDerniere2"
    )
    headers = await dgfip_headers_of(client, registered, asked)
    assert await statuses(client, headers) == [403, 200]


async def test_token_request_for_none_of_the_clients_scopes_is_invalid_scope(
    client: httpx.AsyncClient,
) -> None:
    registered = await dgfip_client(client, ["RessourceIR"])
    response = await dgfip_token(client, registered, "RessourceIRDerniere2")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}


async def test_default_client_keeps_every_scope_whatever_it_asks(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    """Compatibility: existing clients ask `RessourceIR` and call the two-year route."""
    token = (await dgfip_token(client, credentials["dgfip"], "RessourceIR")).json()
    assert token["scope"] == EVERY_SCOPE
    headers = await dgfip_headers_of(client, credentials["dgfip"], "RessourceIR")
    assert await statuses(client, headers) == [200, 200]


async def test_registered_client_authenticates_with_basic_too(
    client: httpx.AsyncClient,
) -> None:
    registered = await dgfip_client(client, ["RessourceIR"])
    auth = (registered["client_id"], registered["client_secret"])
    form = {"grant_type": "client_credentials"}
    response = await client.post("/dgfip/token", data=form, auth=auth)
    assert response.status_code == 200
    assert response.json()["scope"] == "RessourceIR"


async def test_one_clients_id_with_another_clients_secret_is_invalid_client(
    client: httpx.AsyncClient,
) -> None:
    first, second = await dgfip_client(client), await dgfip_client(client)
    mixed = {"client_id": first["client_id"], "client_secret": second["client_secret"]}
    unknown = {"client_id": "nobody", "client_secret": second["client_secret"]}
    for credentials in (mixed, unknown):
        response = await dgfip_token(client, credentials)
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}


async def test_unknown_scope_is_refused_with_a_clear_message(
    client: httpx.AsyncClient,
) -> None:
    body = {"scopes": ["RessourceIR", "RessourceTaxeFonciere"]}
    response = await client.post("/_sandbox/dgfip/clients", json=body)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "Unknown scopes: RessourceTaxeFonciere." in message
    assert "RessourceIRDerniere2" in message  # the known ones are listed


@pytest.mark.parametrize(
    "content",
    ['{"scopes": "RessourceIR"}', '{"scopes": [1]}', '{"client": "x"}', "[]", "{"],
)
async def test_bad_client_request_is_rejected(
    client: httpx.AsyncClient, content: str
) -> None:
    response = await client.post("/_sandbox/dgfip/clients", content=content)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


async def test_revocation_covers_every_clients_tokens(
    client: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    default = await dgfip_headers_of(client, credentials["dgfip"])
    registered = await dgfip_headers_of(client, await dgfip_client(client))
    revoked = (await client.post("/_sandbox/dgfip/revoke-tokens")).json()["revoked"]
    assert revoked >= 2
    for headers in (default, registered):
        response = await client.get(TWO_YEARS.format(spi=ALICE), headers=headers)
        assert (response.status_code, response.json()["codeapp"]) == (401, "4010")
