"""Clients and their keys: hashed in the file, compared in constant time, roles checked."""

from pathlib import Path

import httpx
import pytest
from starlette.datastructures import Headers, Secret

from citizen_graph.app import create_app
from citizen_graph.auth.credentials import (
    ClientsError,
    Credentials,
    key_hash,
    load_clients,
)
from citizen_graph.errors import ForbiddenRole, Unauthenticated
from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import Settings, SettingsError
from tests.conftest import ALICE

KEY = "s3cret-key-of-the-canteen"
CLIENTS = f"""
[[clients]]
id = "mairie-exemple-cantine"
key_sha256 = "{key_hash(KEY)}"
recipient = "21350238800019"
roles = ["family_portal", "address_check"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clients.toml"
    path.write_text(text)
    return path


def test_a_key_authenticates_its_client_with_the_default_role(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS)))
    caller = credentials.authenticate(Headers({"authorization": f"Bearer {KEY}"}))
    assert caller.client_id == "mairie-exemple-cantine"
    assert caller.role == "family_portal"
    assert caller.recipient == "21350238800019"


def test_unknown_keys_and_roles_are_refused(tmp_path: Path) -> None:
    credentials = Credentials(load_clients(write(tmp_path, CLIENTS)))
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
        ('[[clients]]\nid = "x"\n', "needs exactly"),
    ],
)
def test_invalid_clients_files_name_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ClientsError, match=message):
        load_clients(write(tmp_path, text))


def test_a_client_with_a_role_the_policy_lacks_stops_the_start(
    tmp_path: Path,
) -> None:
    from citizen_graph.app import _clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    path = write(tmp_path, CLIENTS.replace('"address_check"', '"mayor"'))
    settings = Settings().replace("auth", clients_file=str(path))
    with pytest.raises(SettingsError, match="unknown role 'mayor'"):
        _clients(settings, load_policy(build_schema()._schema))


def test_a_config_enabling_the_sandbox_still_needs_its_own_clients() -> None:
    from citizen_graph.app import _clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    settings = Settings().replace("sandbox", enabled=True)  # from a file: no demo keys
    with pytest.raises(SettingsError, match="clients_file"):
        _clients(settings, load_policy(build_schema()._schema))


def test_outside_sandbox_mode_a_clients_file_is_required() -> None:
    from citizen_graph.app import _clients
    from citizen_graph.auth.policy import load_policy
    from citizen_graph.schema import build_schema

    with pytest.raises(SettingsError, match="clients_file"):
        _clients(Settings(), load_policy(build_schema()._schema))


def test_a_configured_gateway_accepts_its_clients_keys_and_never_the_demo_keys(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> None:
    credentials = sandbox.get("/_sandbox/credentials").json()
    url = sandbox_server.url
    settings = (
        Settings()
        .replace("auth", clients_file=str(write(tmp_path, CLIENTS)))
        .replace("audit", file=str(tmp_path / "audit.jsonl"), secret=Secret("audit"))
        .replace("server", id_secret=Secret("ids"))
        .replace(
            "dgfip",
            base_url=f"{url}/dgfip",
            client_id=credentials["dgfip"]["client_id"],
            client_secret=Secret(credentials["dgfip"]["client_secret"]),
        )
        .replace(
            "api_particulier",
            base_url=f"{url}/api-particulier",
            token=Secret(credentials["api_particulier"]["token"]),
        )
        .replace("ban", base_url=f"{url}/ban")
    )
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
