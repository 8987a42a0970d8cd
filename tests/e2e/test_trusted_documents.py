"""Trusted documents: a client's manifest (hash → document) in the clients file; a client
marked trusted-documents-only runs those and nothing else (PERSISTED_QUERY_NOT_ALLOWED, each
refusal recorded), and what it sends is never another client's to run by hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
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
OTHER_KEY = "other-secret-key"  # another client of the same file, with no manifest


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
    (tmp_path / "other").mkdir()
    other = one_client(tmp_path / "other", OTHER_KEY, minted(sandbox), client="other")
    path.write_text(path.read_text() + other.read_text())
    with serving_clients(sandbox_server, tmp_path, path) as gw:
        yield gw


def post(
    gateway: GatewayClient, body: Mapping[str, object], key: str = KEY
) -> httpx.Response:
    return gateway.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
    )


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


def test_each_document_not_allowed_leaves_one_record_without_its_text(
    trusted_only: GatewayClient,
) -> None:
    other = "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
    digest = hashlib.sha256(other.encode()).hexdigest()
    bodies: list[dict[str, object]] = [{"query": other}, {"extensions": hashed(digest)}]
    for n, body in enumerate(bodies, start=1):
        post(trusted_only, body | {"variables": {"f": ALICE}})
        records = trusted_only.records()
        assert len(records) == n
        assert records[-1]["refusal"] == {
            "code": "PERSISTED_QUERY_NOT_ALLOWED",
            "status": 400,
        }
        assert records[-1]["client_id"] == "portal"
    text = trusted_only.audit_file.read_text()
    for secret in (ALICE, digest, "birthName"):
        assert secret not in text


def test_a_trusted_document_sent_with_its_hash_is_not_another_clients_to_run(
    trusted_only: GatewayClient,
) -> None:
    variables = {"f": ALICE}
    sent = post(
        trusted_only, {"query": QUERY, "extensions": hashed(), "variables": variables}
    )
    assert sent.json()["data"]["citizen"]["address"]["city"]
    asked = {"extensions": hashed(), "variables": variables}
    by_hash = post(trusted_only, asked, key=OTHER_KEY)
    assert by_hash.status_code == 200
    [error] = by_hash.json()["errors"]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert "data" not in by_hash.json() or by_hash.json()["data"] is None


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
