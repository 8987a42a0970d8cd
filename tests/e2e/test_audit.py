"""The audit trail: one chained record per request touching a citizen, before the response,
never an identifier in clear, complete under concurrency."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from citizen_graph.app import SANDBOX_CHAIN_SECRET
from citizen_graph.auth.audit import verify
from citizen_graph.cli import main
from tests.conftest import ALICE, ALICE_IDENTITY, FAMILY, GatewayClient
from tests.schema.test_limits import fan_out

QUERY = """query Canteen($f: String, $i: PivotIdentityInput) {
  citizen(fiscalNumber: $f, identity: $i) {
    taxNotice { referenceTaxIncome taxAmount } familyQuotient { value } } }"""


def test_a_request_about_a_citizen_writes_one_record(gateway: GatewayClient) -> None:
    gateway.query(
        QUERY,
        {"f": ALICE, "i": ALICE_IDENTITY},
        key=FAMILY,
        headers={
            "X-Purpose": "Tarification cantine 2026",
            "X-Request-Id": "req-audit-1",
        },
    )
    [record] = gateway.records()
    assert record["request_id"] == "req-audit-1"
    assert record["client_id"] == "demo-client-family-portal"
    assert record["recipient"] == "21350238800019"
    assert record["role"] == "family_portal"
    assert record["purpose"] == "Tarification cantine 2026"
    assert record["operation"] == "Canteen"
    assert record["fields_denied"] == ["TaxNotice.taxAmount"]
    assert "TaxNotice.referenceTaxIncome" in record["fields_permitted"]
    assert record["outcome"] == "partial"
    assert {(c["source"], c["cached"]) for c in record["upstream_calls"]} == {
        ("dgfip", False),
        ("api_particulier", False),
    }
    assert all(c["upstream_request_id"] for c in record["upstream_calls"])
    assert set(record["citizens"][0]) == {"fiscal_number", "identity"}


def test_the_file_holds_no_identifier_and_no_credential(gateway: GatewayClient) -> None:
    gateway.query(QUERY, {"f": ALICE, "i": ALICE_IDENTITY}, key=FAMILY)
    text = gateway.audit_file.read_text()
    for secret in (ALICE, "FICTIF", "1984-03-14", "LAMBERT", "52110", "Bearer", FAMILY):
        assert secret not in text


def test_requests_not_about_a_citizen_write_nothing(gateway: GatewayClient) -> None:
    gateway.query("{ viewer { role } }")
    assert not gateway.audit_file.exists() or gateway.audit_file.read_text() == ""


def test_cached_answers_are_recorded_as_cached(gateway: GatewayClient) -> None:
    for _ in range(2):
        gateway.query(QUERY, {"f": ALICE, "i": ALICE_IDENTITY}, key=FAMILY)
    first, second = gateway.records()
    assert not any(c["cached"] for c in first["upstream_calls"])
    assert all(c["cached"] for c in second["upstream_calls"])


def test_fifty_concurrent_requests_write_fifty_chained_records(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    gateway = start_gateway()
    spis = [f"30000000000{n}" for n in ("11", "12", "21", "31", "41")] * 10

    def ask(n: int) -> None:
        gateway.query(
            "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }",
            {"f": spis[n]},
            headers={"X-Request-Id": f"req-{n}"},
        )

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(ask, range(50)))
    lines = gateway.audit_file.read_text().splitlines()
    assert len(lines) == 50
    assert {json.loads(line)["request_id"] for line in lines} == {
        f"req-{n}" for n in range(50)
    }
    assert verify(lines, SANDBOX_CHAIN_SECRET).breaks == []


def test_verify_detects_a_removed_or_altered_line(
    gateway: GatewayClient, capsys: pytest.CaptureFixture[str]
) -> None:
    for spi in ("3000000000011", "3000000000012", "3000000000021"):
        gateway.query(
            "query($f: String) { citizen(fiscalNumber: $f) { id } }", {"f": spi}
        )
    main(["audit", "verify", str(gateway.audit_file)])
    assert "chain intact" in capsys.readouterr().out
    lines = gateway.audit_file.read_text().splitlines()
    gateway.audit_file.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(SystemExit) as removed:
        main(["audit", "verify", str(gateway.audit_file)])
    assert removed.value.code == 1
    altered = lines[1].replace('"role":"social_services"', '"role":"family_portal"')
    gateway.audit_file.write_text("\n".join([lines[0], altered, lines[2]]) + "\n")
    with pytest.raises(SystemExit):
        main(["audit", "verify", str(gateway.audit_file)])
    assert "record 3" in capsys.readouterr().out
    gateway.audit_file.write_text(
        "\n".join(lines[1:]) + "\n"
    )  # the oldest record removed
    with pytest.raises(SystemExit):
        main(["audit", "verify", str(gateway.audit_file)])
    with pytest.raises(SystemExit):  # the seal file says where the active file starts
        main(["audit", "verify", "--partial", str(gateway.audit_file)])


def test_find_answers_who_read_a_citizen(
    gateway: GatewayClient, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.query(QUERY, {"f": ALICE, "i": ALICE_IDENTITY}, key=FAMILY,
                  headers={"X-Purpose": "Cantine"})  # fmt: skip
    gateway.query(
        "query($f: String) { citizen(fiscalNumber: $f) { id } }", {"f": "3000000000021"}
    )
    main(["audit", "find", str(gateway.audit_file), "--fiscal-number", ALICE])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "demo-client-family-portal" in out[0]
    assert "purpose='Cantine'" in out[0]
    assert "TaxNotice.referenceTaxIncome" in out[0]


def test_an_unwritable_audit_fails_closed(
    start_gateway: Callable[..., GatewayClient], tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    gateway = start_gateway(audit={"file": str(blocked)})
    blocked.mkdir()  # a directory where the file should be: every write fails
    result = gateway.query(
        "query($f: String) { citizen(fiscalNumber: $f) { id } }", {"f": ALICE}
    )
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "INTERNAL"


def test_a_french_purpose_is_recorded_as_written(gateway: GatewayClient) -> None:
    purpose = "Aide sociale à l'enfance"
    gateway.http.post(
        "/graphql",
        json={"query": f'{{ citizen(fiscalNumber: "{ALICE}") {{ id }} }}'},
        headers={
            "Authorization": f"Bearer {FAMILY}",
            "X-Purpose": purpose.encode(),  # raw UTF-8 bytes on the wire
        },
    )
    [record] = gateway.records()
    assert record["purpose"] == purpose


@pytest.mark.parametrize(
    ("key", "headers", "code", "status", "client"),
    [
        (None, {}, "UNAUTHENTICATED", 401, None),
        ("not-a-key", {}, "UNAUTHENTICATED", 401, None),
        (FAMILY, {"X-Role": "social_services"}, "FORBIDDEN_ROLE", 403, "family-portal"),
        (FAMILY, {"X-Purpose": ""}, "PURPOSE_REQUIRED", 400, "family-portal"),
        (FAMILY, {"X-Role": ""}, "BAD_USER_INPUT", 400, "family-portal"),
    ],
)
def test_a_request_refused_at_the_door_leaves_one_record(
    gateway: GatewayClient,
    key: str | None,
    headers: dict[str, str],
    code: str,
    status: int,
    client: str | None,
) -> None:
    response = gateway.post("{ viewer { role } }", key=key, headers=headers)
    assert response.status_code == status
    [record] = gateway.records()
    assert record["refusal"] == {"code": code, "status": status}
    assert record["client_id"] == (f"demo-client-{client}" if client else None)
    assert record["citizens"] == []


def test_a_purpose_carrying_an_identifier_is_refused_and_not_recorded(
    gateway: GatewayClient,
) -> None:
    purpose = f"Dossier de ALICE FICTIF {ALICE} nee 1984-03-14"
    response = gateway.post(QUERY, {"f": ALICE}, headers={"X-Purpose": purpose})
    assert response.status_code == 400
    text = gateway.audit_file.read_text()
    for identifier in (ALICE, "FICTIF", "1984"):
        assert identifier not in text
    [record] = [r for r in gateway.records() if r.get("outcome") == "refused"]
    assert (record["purpose"], record["purpose_given"]) == (None, True)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ viewer { rol } }", "BAD_USER_INPUT"),
        ("qwerty cop { abc }", "BAD_USER_INPUT"),
        (fan_out(30), "QUERY_TOO_COMPLEX"),
        ("{ viewer { role } }" + " " * 300_000, "QUERY_TOO_COMPLEX"),
        ('{"query": "not json', "BAD_USER_INPUT"),
    ],
)
def test_a_document_refused_before_execution_leaves_one_record_without_its_text(
    gateway: GatewayClient, query: str, code: str
) -> None:
    gateway.post(query)
    [record] = gateway.records()
    assert record["refusal"]["code"] == code
    assert record["client_id"] == "demo-client-social-services"
    text = gateway.audit_file.read_text()
    for document_text in ("viewer", "qwerty", "F29"):
        assert document_text not in text


def test_a_request_over_the_citizen_limit_records_whom_it_asked_for(
    gateway: GatewayClient,
) -> None:
    keys = [{"fiscalNumber": f"3{i:012d}"} for i in range(101)]
    query = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { id } }"
    gateway.query(query, {"k": keys})
    [record] = gateway.records()
    assert record["refusal"] == {"code": "BAD_USER_INPUT", "status": 200}
    assert len(record["citizens"]) == 101
    assert record["upstream_calls"] == []


def test_refusals_keep_the_chain_intact(gateway: GatewayClient) -> None:
    for key in (None, FAMILY, "nope"):
        gateway.post("{ viewer { role } }", key=key, headers={"X-Role": "x"})
    gateway.query(QUERY, {"f": ALICE, "i": ALICE_IDENTITY})
    lines = gateway.audit_file.read_text().splitlines(keepends=True)
    assert len(lines) == 4
    assert verify(lines, SANDBOX_CHAIN_SECRET).breaks == []


@pytest.mark.parametrize(
    ("method", "extensions"),
    [("GET", None), ("GET", "{}"), ("PUT", None), ("DELETE", None)],
)
def test_a_request_that_is_not_a_post_is_refused_as_json_and_recorded(
    gateway: GatewayClient, method: str, extensions: str | None
) -> None:
    """A GET runs nothing without a persisted query's hash, empty extensions included."""
    params = {"query": "{ viewer { role } }"}
    response = gateway.http.request(
        method,
        "/graphql",
        params=params | ({"extensions": extensions} if extensions else {}),
        headers={"Authorization": f"Bearer {FAMILY}"},
    )
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    [record] = gateway.records()
    assert record["refusal"] == {"code": "BAD_USER_INPUT", "status": 405}
    assert record["client_id"] == "demo-client-family-portal"


def test_each_record_is_on_disk_before_its_response_arrives(
    gateway: GatewayClient,
) -> None:
    # With `test_an_unwritable_audit_fails_closed`, which can only pass if the write is
    # awaited before the answer, this fails for a record written after the response.
    for n in range(1, 21):
        gateway.query(QUERY, {"f": ALICE, "i": ALICE_IDENTITY})
        assert len(gateway.records()) == n
