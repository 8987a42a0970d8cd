"""Trusted documents: a client's manifest (hash → document) in the clients file; a client
marked trusted-documents-only runs those and nothing else (PERSISTED_QUERY_NOT_ALLOWED)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citizen_graph.auth.credentials import ClientsError, load_clients
from citizen_graph.serving import ThreadedServer
from tests.clients_files import minted, one_client, serving_clients
from tests.conftest import ALICE, GatewayClient, upstream_calls

QUERY = "query Address($f: String) { citizen(fiscalNumber: $f) { address { city } } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
KEY = "portal-secret-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def manifest(tmp_path: Path, body: str = QUERY, digest: str = HASH) -> None:
    operations = [{"id": digest, "name": "Address", "type": "query", "body": body}]
    document = {"format": "apollo-persisted-query-manifest", "version": 1}
    (tmp_path / "manifest.json").write_text(
        json.dumps(document | {"operations": operations})
    )


def clients_file(tmp_path: Path, dgfip: tuple[str, str], only: bool) -> Path:
    lines = 'trusted_documents = "manifest.json"\n'
    lines += f"trusted_documents_only = {str(only).lower()}"
    return one_client(tmp_path, KEY, dgfip, extra=lines)


@pytest.fixture
def trusted_only(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> Iterator[GatewayClient]:
    manifest(tmp_path)
    path = clients_file(tmp_path, minted(sandbox), only=True)
    with serving_clients(sandbox_server, tmp_path, path) as gw:
        yield gw


def post(gateway: GatewayClient, body: dict[str, object]) -> httpx.Response:
    return gateway.http.post("/graphql", json=body, headers=HEADERS)


def hashed(digest: str = HASH) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def test_a_trusted_document_runs_by_its_hash_with_no_registration(
    trusted_only: GatewayClient,
) -> None:
    answer = post(trusted_only, {"extensions": hashed(), "variables": {"f": ALICE}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["citizen"]["address"]["city"]


def test_a_trusted_document_sent_in_full_runs_too(trusted_only: GatewayClient) -> None:
    answer = post(trusted_only, {"query": QUERY, "variables": {"f": ALICE}})
    assert answer.status_code == 200
    assert answer.json()["data"]["citizen"]["address"]["city"]


def test_any_other_document_is_not_allowed_and_fetches_nothing(
    trusted_only: GatewayClient, sandbox: httpx.Client
) -> None:
    other = "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
    for body in (
        {"query": other, "variables": {"f": ALICE}},
        {
            "query": other,
            "extensions": hashed(hashlib.sha256(other.encode()).hexdigest()),
        },
        {"extensions": hashed("0" * 64)},
    ):
        answer = post(trusted_only, body)
        assert answer.status_code == 400
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    assert upstream_calls(sandbox, "dgfip") == 0


def test_a_manifest_whose_id_is_not_its_documents_hash_stops_the_start(
    tmp_path: Path,
) -> None:
    manifest(tmp_path, digest="1" * 64)
    path = clients_file(tmp_path, ("any", "secret"), only=True)
    with pytest.raises(ClientsError, match="SHA-256") as refused:
        load_clients(path, {})
    assert QUERY not in str(refused.value)


def test_trusted_documents_only_needs_a_manifest(tmp_path: Path) -> None:
    path = clients_file(tmp_path, ("any", "secret"), only=True)
    path.write_text(
        path.read_text().replace('trusted_documents = "manifest.json"\n', "")
    )
    with pytest.raises(ClientsError, match="needs trusted_documents"):
        load_clients(path, {})
