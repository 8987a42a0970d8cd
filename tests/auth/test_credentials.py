"""Clients and their keys: hashed in the file, compared in constant time, roles checked."""

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.datastructures import Headers

from citizen_graph.app import create_app
from citizen_graph.auth.credentials import (
    ClientsError,
    Credentials,
    key_hash,
    load_clients,
)
from citizen_graph.errors import BadUserInput, ForbiddenRole, Unauthenticated
from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import (
    AuthSettings,
    SandboxSettings,
    Settings,
    SettingsError,
)
from tests.conftest import ALICE, configured_settings

KEY = "s3cret-key-of-the-canteen"
CLIENTS = f"""
[[clients]]
id = "mairie-exemple-cantine"
key_sha256 = "{key_hash(KEY)}"
recipient = "21350238800019"
roles = ["family_portal", "address_check"]
"""


HABILITATION = """
[[clients.habilitations]]
id = "cantine-2026"
procedure = "Tarification de la cantine"
roles = ["family_portal", "address_check"]
[clients.habilitations.api_particulier]
token = {{ file = "{dir}/ap-token" }}
scopes = ["cnaf_quotient_familial", "cnaf_enfants"]
[clients.habilitations.dgfip]
client_id = "{client_id}"
client_secret = {{ file = "{dir}/dgfip-secret" }}
scopes = ["RessourceIRDerniere2"]
"""


def write(
    tmp_path: Path,
    text: str,
    token: str = "an-opaque-token",
    dgfip: tuple[str, str] = ("cantine", "a-dgfip-secret"),
) -> Path:
    """The clients file with the last client's habilitation, its secrets in files."""
    (tmp_path / "ap-token").write_text(token)
    (tmp_path / "dgfip-secret").write_text(dgfip[1])
    path = tmp_path / "clients.toml"
    path.write_text(text + HABILITATION.format(dir=tmp_path, client_id=dgfip[0]))
    return path


def test_a_key_authenticates_its_client_with_the_default_role(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS), {}))
    caller = credentials.authenticate(Headers({"authorization": f"Bearer {KEY}"}))
    assert caller.client_id == "mairie-exemple-cantine"
    assert caller.role == "family_portal"
    assert caller.recipient == "21350238800019"


def test_unknown_keys_and_roles_are_refused(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS), {}))
    with pytest.raises(Unauthenticated):
        credentials.authenticate(
            Headers({"authorization": "Bearer demo-family-portal"})
        )
    with pytest.raises(Unauthenticated):
        credentials.authenticate(Headers({"authorization": f"Basic {KEY}"}))
    with pytest.raises(ForbiddenRole):
        credentials.authenticate(
            Headers({"authorization": f"Bearer {KEY}", "x-role": "social_services"})
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CLIENTS.replace(key_hash(KEY), "abc"), "key_sha256"),
        (CLIENTS.replace("21350238800019", "2135"), "recipient"),
        (CLIENTS.replace('["family_portal", "address_check"]', "[]"), "roles"),
        (CLIENTS + CLIENTS, "listed twice"),
        ('[[clients]]\nid = "x"\n', "needs id, key_sha256, recipient and roles"),
        (CLIENTS + 'scopes = ["all"]\n', "unknown key 'scopes'"),
        (CLIENTS + "purposes = []\n", "purposes must be a non-empty list"),
        (CLIENTS + 'purposes = ["  "]\n', "purposes must be a non-empty list"),
        (CLIENTS + f'purposes = ["{"x" * 201}"]\n', "over 200 characters"),
        (CLIENTS + 'purposes = ["Dossier 3000000000011"]\n', "personal identifier"),
    ],
)
def test_invalid_clients_files_name_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ClientsError, match=message):
        load_clients(write(tmp_path, text), {})


def headers(*pairs: tuple[str, str]) -> Headers:
    """Headers as they arrive: UTF-8 bytes, read by Starlette as latin-1."""
    return Headers(raw=[(k.encode(), v.encode()) for k, v in pairs])


def caller_of(tmp_path: Path, *pairs: tuple[str, str], clients: str = CLIENTS) -> str:
    credentials = Credentials(load_clients(write(tmp_path, clients), {}))
    caller = credentials.authenticate(
        headers(("authorization", f"Bearer {KEY}"), *pairs)
    )
    return f"{caller.role}|{caller.purpose}"


def test_two_authorization_headers_are_refused(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS), {}))
    twice = headers(("authorization", f"Bearer {KEY}"), ("authorization", "Bearer x"))
    with pytest.raises(BadUserInput, match="Send one Authorization header") as error:
        credentials.authenticate(twice)
    assert error.value.http_status == 400


@pytest.mark.parametrize("role", ["", "   "])
def test_an_empty_x_role_is_refused_rather_than_defaulted(
    tmp_path: Path, role: str
) -> None:
    with pytest.raises(BadUserInput, match="X-Role"):
        caller_of(tmp_path, ("x-role", role))


def test_a_missing_x_role_takes_the_default_role(tmp_path: Path) -> None:
    assert caller_of(tmp_path) == "family_portal|None"


@pytest.mark.parametrize(
    "purpose",
    [
        "Dossier de ALICE FICTIF 3000000000011 née 1984-03-14",
        "3000000000011",
        "Dossier 30 00 00 00 00 011",
        "Dossier 30.00.00.00.00.011",
        "Dossier 3000-0000-00011",
        "Dossier 3,000,000,000,011",
        "Dossier 3000:0000:0011",
        "Dossier 3000000\u200b000011",  # a zero-width space
        "Dossier 3000\u2011000\u2011000\u2011011",  # non-breaking hyphens
        "Née le 1984,03,14",
        "Née le 1984\u201003\u201014",  # Unicode hyphens
        "Née le 14 mars 84",
        "Dossier ALICE FICTIF 14-mars-1984",
        "ALICE FICTIF nee 14mars1984",
        "mars-14-1984",
        "Appel au 06 12 34 56 78",
        "Née le 1984-03-14",
        "Née le 14/03/1984",
        "Née le 14-03-1984",
        "Née le 14.03.1984",
        "Née le 14 mars 1984",
        "Né le 1er août 1984",
        "NÉE LE 3 DÉCEMBRE 1984",
    ],
)
def test_a_purpose_carrying_a_personal_identifier_is_refused_without_echo(
    tmp_path: Path, purpose: str
) -> None:
    with pytest.raises(
        BadUserInput, match="must not carry a personal identifier"
    ) as error:
        caller_of(tmp_path, ("x-purpose", purpose))
    assert error.value.http_status == 400
    assert "3000" not in error.value.message
    assert "1984" not in error.value.message


@pytest.mark.parametrize(
    "purpose",
    [
        "Tarification cantine 2026",
        "Aide sociale 2025-2026",
        "Aide sociale 2025 - 2026",
        "Dossier CCAS n° 42",
        "Bourse 2026, échelon 3, dossier 1234567",
        "Rentrée de mars 2026",
        "Tarification mars 2026",
        "Séjour de 3 semaines en mars 2026",
    ],
)
def test_ordinary_purposes_stay_valid(tmp_path: Path, purpose: str) -> None:
    assert caller_of(tmp_path, ("x-purpose", purpose)) == f"family_portal|{purpose}"


DECLARED = (
    CLIENTS
    + 'purposes = ["Tarification cantine 2026", "Inscription centre de loisirs"]\n'
)


def test_a_client_with_declared_purposes_may_use_them(tmp_path: Path) -> None:
    sent = ("x-purpose", "  Tarification cantine 2026 ")
    assert caller_of(tmp_path, sent, clients=DECLARED).endswith(
        "|Tarification cantine 2026"
    )


def test_a_client_with_declared_purposes_may_use_no_other(tmp_path: Path) -> None:
    with pytest.raises(BadUserInput, match="not one of this client's declared"):
        caller_of(tmp_path, ("x-purpose", "Tarification cantine"), clients=DECLARED)


def test_demo_clients_may_give_any_ordinary_purpose() -> None:
    from citizen_graph.app import demo_habilitation
    from citizen_graph.auth.demo_keys import demo_client

    key = "demo-family-portal"
    credentials = Credentials([demo_client(key, (demo_habilitation(key, "t", None),))])
    caller = credentials.authenticate(
        headers(("authorization", "Bearer demo-family-portal"), ("x-purpose", "Test"))
    )
    assert caller.purpose == "Test"


def test_identify_names_the_client_of_a_refused_request(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS), {}))
    refused = headers(("authorization", f"Bearer {KEY}"), ("x-role", ""))
    proved = credentials.identify(refused)
    assert proved is not None
    assert (proved.client.client_id, proved.agent) == ("mairie-exemple-cantine", None)
    assert credentials.identify(headers(("authorization", "Bearer nope"))) is None


def test_a_client_with_a_role_the_policy_lacks_stops_the_start(
    tmp_path: Path,
) -> None:
    from citizen_graph.app import read_clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    text = CLIENTS.replace('"address_check"', '"mayor"')
    path = write(tmp_path, text).with_name("clients.toml")
    path.write_text(path.read_text().replace('"address_check"', '"mayor"'))
    with pytest.raises(SettingsError, match="unknown role 'mayor'"):
        read_clients(path, load_policy(build_schema()._schema))


def test_a_config_enabling_the_sandbox_still_needs_its_own_clients() -> None:
    from citizen_graph.app import _clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    settings = Settings(
        sandbox=SandboxSettings(enabled=True)
    )  # from a file: no demo keys
    with pytest.raises(SettingsError, match="clients_file"):
        asyncio.run(_clients(settings, load_policy(build_schema()._schema)))


def test_outside_sandbox_mode_a_clients_file_is_required() -> None:
    from citizen_graph.app import _clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    with pytest.raises(SettingsError, match="clients_file"):
        asyncio.run(_clients(Settings(), load_policy(build_schema()._schema)))


def test_a_configured_gateway_accepts_its_clients_keys_and_never_the_demo_keys(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> None:
    settings = configured_settings(sandbox_server.url, tmp_path)
    given = sandbox.get("/_sandbox/credentials").json()
    dgfip = (given["dgfip"]["client_id"], given["dgfip"]["client_secret"])
    path = write(tmp_path, CLIENTS, given["api_particulier"]["token"], dgfip)
    auth = AuthSettings(clients_file=str(path))
    settings = dataclasses.replace(settings, auth=auth)
    query = {
        "query": f'{{ citizen(fiscalNumber: "{ALICE}") {{ identity {{ birthName }} }} }}'
    }
    with ThreadedServer(create_app(settings)) as server:
        demo = httpx.post(
            f"{server.url}/graphql",
            json=query,
            headers={"Authorization": "Bearer demo-family-portal", "X-Purpose": "x"},
        )
        assert demo.status_code == 401
        ours = httpx.post(
            f"{server.url}/graphql",
            json=query,
            headers={"Authorization": f"Bearer {KEY}", "X-Purpose": "Cantine"},
        )
        assert ours.json()["data"]["citizen"]["identity"]["birthName"] == "FICTIF"


def configured_beside_a_sandbox(
    sandbox: httpx.Client, sandbox_url: str, tmp_path: Path, **auth: Any
) -> Settings:
    """A config file with its own clients and `[sandbox] enabled = true`: the sandbox
    stands in for the State's APIs, and its demo keys stay out."""
    given = sandbox.get("/_sandbox/credentials").json()
    dgfip = (given["dgfip"]["client_id"], given["dgfip"]["client_secret"])
    path = write(tmp_path, CLIENTS, given["api_particulier"]["token"], dgfip)
    settings = configured_settings(sandbox_url, tmp_path)
    return dataclasses.replace(
        settings,
        sandbox=SandboxSettings(enabled=True, url=sandbox_url),
        auth=AuthSettings(clients_file=str(path), **auth),
    )


def viewer_as_an_agent(settings: Settings, sandbox: httpx.Client) -> httpx.Response:
    """The viewer, asked with a token the sandbox mints for the canteen's client."""
    minted = sandbox.post(
        "/_sandbox/agent-tokens",
        json={
            "client": "mairie-exemple-cantine",
            "sub": "anyone",
            "roles": ["family_portal"],
        },
    ).json()["token"]
    with ThreadedServer(create_app(settings)) as server:
        return httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ viewer { clientId agent } }"},
            headers={"Authorization": f"Bearer {minted}", "X-Purpose": "Cantine"},
        )


def test_a_configured_gateway_beside_a_sandbox_refuses_the_sandboxs_agent_tokens(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> None:
    settings = configured_beside_a_sandbox(sandbox, sandbox_server.url, tmp_path)
    response = viewer_as_an_agent(settings, sandbox)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_configured_gateway_beside_a_sandbox_trusts_the_jwks_it_is_given(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> None:
    own = {
        "jwks_url": f"{sandbox_server.url}/_sandbox/jwks.json",  # as its own IdP's
        "issuer": "https://sandbox.citizen-graph.invalid",
        "audience": "citizen-graph",
    }
    settings = configured_beside_a_sandbox(sandbox, sandbox_server.url, tmp_path, **own)
    viewer = viewer_as_an_agent(settings, sandbox).json()["data"]["viewer"]
    assert viewer == {"clientId": "mairie-exemple-cantine", "agent": "anyone"}
