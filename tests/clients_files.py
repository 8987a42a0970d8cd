"""The clients file of a gateway run outside sandbox mode in the tests: one client of one
role, served by one habilitation whose DGFiP credentials the caller gives (minted by the
sandbox, or made up where the gateway never calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from citizen_graph.auth.credentials import key_hash
from citizen_graph.serving import ThreadedServer
from tests.conftest import GatewayClient, configured_settings, serving


def one_client(
    folder: Path,
    key: str,
    dgfip: tuple[str, str],
    *,
    client: str = "portal",
    extra: str = "",
) -> Path:
    """`folder`/clients.toml: the client `client` (role address_check, key `key`) and its
    habilitation `{client}-adresse` with the DGFiP (client_id, client_secret) `dgfip`,
    the secret by reference to a file; `extra` adds lines to the client's table."""
    client_id, secret = dgfip
    (folder / "dgfip-secret").write_text(secret)
    path = folder / "clients.toml"
    path.write_text(
        f"""
[[clients]]
id = "{client}"
key_sha256 = "{key_hash(key)}"
recipient = "21350238800019"
roles = ["address_check"]
{extra}
  [[clients.habilitations]]
  id = "{client}-adresse"
  procedure = "Justificatif de domicile"
  roles = ["address_check"]
  [clients.habilitations.dgfip]
  client_id = "{client_id}"
  client_secret = {{ file = "{folder / "dgfip-secret"}" }}
  scopes = ["RessourceIRDerniere2"]
"""
    )
    return path


def minted(sandbox: httpx.Client) -> tuple[str, str]:
    """A DGFiP (client_id, client_secret) of its own, minted by the sandbox."""
    oauth = sandbox.post("/_sandbox/dgfip/clients", json={}).json()
    return oauth["client_id"], oauth["client_secret"]


@contextmanager
def serving_clients(
    sandbox_server: ThreadedServer, folder: Path, clients: Path
) -> Iterator[GatewayClient]:
    """A gateway outside sandbox mode, against the sandbox, reading `clients`."""
    settings = configured_settings(sandbox_server.url, folder)
    auth = dataclasses.replace(settings.auth, clients_file=str(clients))
    audit_file = Path(settings.audit.file)
    with serving(dataclasses.replace(settings, auth=auth), audit_file) as gw:
        yield gw
