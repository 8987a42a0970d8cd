"""Errors follow the contract: partial data, `extensions.code`, the failing source, the path,
and never a stack trace, an upstream URL or a citizen identifier."""

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import ALICE, ALICE_IDENTITY, GatewayClient, upstream_calls
from tests.e2e.queries import ONE_CITIZEN
from tests.e2e.test_boundaries import deep

IDENTITY_AND_QF = """query($f: String, $i: PivotIdentityInput) {
  citizen(fiscalNumber: $f, identity: $i) { identity { birthName } familyQuotient { value } } }"""


def codes(result: dict) -> list[tuple[str, list]]:
    return [(e["extensions"]["code"], e.get("path")) for e in result.get("errors", [])]


def assert_no_leak(response: httpx.Response, *identifiers: str) -> None:
    text = response.text
    for forbidden in (
        "Traceback",
        "http://",
        "127.0.0.1",
        "/dgfip",
        'File "',
        *identifiers,
    ):
        assert forbidden not in text, forbidden


def test_malformed_fiscal_number_is_bad_user_input(gateway: GatewayClient) -> None:
    result = gateway.query('{ citizen(fiscalNumber: "12AB") { id } }')
    assert result["data"]["citizen"] is None
    assert codes(result) == [("BAD_USER_INPUT", ["citizen"])]


def test_citizen_without_any_key_is_bad_user_input(gateway: GatewayClient) -> None:
    result = gateway.query("{ citizen { id } }")
    assert codes(result) == [("BAD_USER_INPUT", ["citizen"])]


def test_one_bad_key_fails_alone_at_its_position(gateway: GatewayClient) -> None:
    keys = [{"fiscalNumber": ALICE}, {"fiscalNumber": "1"}, {}]
    query = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { identity { birthName } } }"
    result = gateway.query(query, {"k": keys})
    citizens = result["data"]["citizens"]
    assert citizens[0]["identity"]["birthName"] == "FICTIF"
    assert citizens[1] is None
    assert citizens[2] is None
    assert sorted(codes(result)) == [
        ("BAD_USER_INPUT", ["citizens", 1]),
        ("BAD_USER_INPUT", ["citizens", 2]),
    ]


def test_more_than_one_hundred_keys_are_refused_before_any_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    keys = [{"fiscalNumber": f"3{i:012d}"} for i in range(101)]
    query = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { identity { birthName } } }"
    result = gateway.query(query, {"k": keys})
    assert result["data"] is None
    assert codes(result) == [("BAD_USER_INPUT", None)]  # the request, before execution
    assert upstream_calls(sandbox, "dgfip") == 0


def test_field_without_its_key_is_missing_key_and_the_rest_is_returned(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = gateway.query(IDENTITY_AND_QF, {"f": ALICE})
    assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    assert result["data"]["citizen"]["familyQuotient"] is None
    assert codes(result) == [("MISSING_KEY", ["citizen", "familyQuotient"])]
    assert upstream_calls(sandbox, "api_particulier") == 0


def test_unknown_fiscal_number_is_not_found_from_dgfip(gateway: GatewayClient) -> None:
    response = gateway.post(
        'query { citizen(fiscalNumber: "3999999999999") { identity { birthName } } }'
    )
    result = response.json()
    assert result["data"]["citizen"]["identity"] is None
    [error] = result["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND", "source": "dgfip"}
    assert error["path"] == ["citizen", "identity"]
    assert_no_leak(response, "3999999999999")


def test_person_unknown_to_caf_is_not_found_from_api_particulier(
    gateway: GatewayClient,
) -> None:
    identity = ALICE_IDENTITY | {"birthPlaceCode": "00404"}
    result = gateway.query(IDENTITY_AND_QF, {"f": ALICE, "i": identity})
    assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    [error] = result["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND", "source": "api_particulier"}


@pytest.mark.parametrize("spi", ["1111111111500", "1111111111403"])
def test_dgfip_errors_are_upstream_unavailable_without_details(
    gateway: GatewayClient, spi: str
) -> None:
    response = gateway.post(
        "query($f: String) { citizen(fiscalNumber: $f) { taxNotice { incomeYear } } }",
        {"f": spi},
    )
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "dgfip"}
    assert error["path"] == ["citizen", "taxNotice"]
    assert_no_leak(response, spi)


def test_an_upstream_in_outage_nulls_only_its_fields(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    sandbox.put(
        "/_sandbox/faults/api_particulier", json={"outage": True}
    ).raise_for_status()
    response = gateway.post(IDENTITY_AND_QF, {"f": ALICE, "i": ALICE_IDENTITY})
    result = response.json()
    assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    assert result["data"]["citizen"]["familyQuotient"] is None
    [error] = result["errors"]
    assert error["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "source": "api_particulier",
    }
    assert_no_leak(response, ALICE)


def test_a_hanging_upstream_is_cut_at_the_deadline_and_the_rest_returned(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(server={"request_deadline_s": 1.5})
    gateway.http.timeout = httpx.Timeout(10.0)  # the hang lasts 30 s
    sandbox.put(
        "/_sandbox/faults/dgfip", json={"latency_ms": 30_000}
    ).raise_for_status()
    result = gateway.query(IDENTITY_AND_QF, {"f": ALICE, "i": ALICE_IDENTITY})
    assert result["data"]["citizen"]["identity"] is None
    assert result["data"]["citizen"]["familyQuotient"]["value"] > 0
    assert codes(result) == [("UPSTREAM_UNAVAILABLE", ["citizen", "identity"])]


def test_a_failing_ban_leaves_the_tax_notice_intact(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    sandbox.put("/_sandbox/faults/ban", json={"outage": True, "status": 500})
    result = gateway.query(
        ONE_CITIZEN, {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    )
    citizen = result["data"]["citizen"]
    assert citizen["address"]["sourceLabel"] == "12 R DES EXEMPLES 35000 RENNES"
    assert citizen["taxNotice"]["incomeYear"] > 2000
    assert citizen["familyQuotient"]["value"] > 0
    assert {"code": "UPSTREAM_UNAVAILABLE", "source": "ban"} in [
        e["extensions"]
        for e in result["errors"]
        if e["path"][:2] == ["citizen", "address"]
    ]


def test_repeated_failures_open_the_circuit_and_stop_calling(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker={"failure_threshold": 2, "open_s": 60.0})
    sandbox.put("/_sandbox/faults/dgfip", json={"outage": True})
    query = "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
    for spi in ("3000000000011", "3000000000012", "3000000000021", "3000000000031"):
        result = gateway.query(query, {"f": spi})
        assert codes(result)[0][0] == "UPSTREAM_UNAVAILABLE"
    # two logical calls, each tried twice (one retry on 503), then no more calls
    assert upstream_calls(sandbox, "dgfip") <= 4
    ready = gateway.http.get("/readyz").json()
    assert ready["upstreams"]["dgfip"]["circuit"] == "open"


def test_out_of_range_periods_are_bad_user_input(gateway: GatewayClient) -> None:
    query = """query($i: PivotIdentityInput) { citizen(identity: $i) {
      old: familyQuotient(year: 2001, month: 1) { value }
      half: familyQuotient(year: 2026) { value }
      tax: taxNotice(incomeYear: 1990) { incomeYear } } }"""
    result = gateway.query(query, {"i": ALICE_IDENTITY})
    assert sorted(codes(result)) == [
        ("BAD_USER_INPUT", ["citizen", "half"]),
        ("BAD_USER_INPUT", ["citizen", "old"]),
        ("MISSING_KEY", ["citizen", "tax"]),
    ]


def test_invalid_identity_is_bad_user_input(gateway: GatewayClient) -> None:
    identity = ALICE_IDENTITY | {"givenNames": ["A", "B", "C", "D"]}
    result = gateway.query(IDENTITY_AND_QF, {"i": identity})
    assert codes(result) == [("BAD_USER_INPUT", ["citizen"])]


def test_syntax_errors_are_bad_user_input_without_internals(
    gateway: GatewayClient,
) -> None:
    response = gateway.post("qwerty cop { abc }")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "exception" not in json.dumps(error)


def test_validation_errors_carry_no_suggestions(gateway: GatewayClient) -> None:
    response = gateway.post(
        '{ citizen(fiscalNumbr: "3000000000011") { identiti { birthNam } } }'
    )
    errors = response.json()["errors"]
    assert errors
    assert all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors)
    assert "Did you mean" not in response.text


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(20)) + " }",
            id="20 aliases",
        ),
        pytest.param(deep(16), id="introspection depth 16"),
        pytest.param(deep(150), id="depth 150"),
        pytest.param(deep(400), id="depth 400"),  # refused by graphql-core's parser
    ],
)
def test_too_deep_or_too_aliased_queries_are_too_complex(
    gateway: GatewayClient, document: str
) -> None:
    result = gateway.post(document).json()
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["QUERY_TOO_COMPLEX"]


def test_missing_or_unknown_credential_is_401(gateway: GatewayClient) -> None:
    for key in (None, "not-a-key"):
        response = gateway.post("{ viewer { role } }", key=key)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_role_outside_the_credential_is_403(gateway: GatewayClient) -> None:
    response = gateway.post(
        "{ viewer { role } }",
        key="demo-family-portal",
        headers={"X-Role": "social_services"},
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN_ROLE"


def test_malformed_json_body_is_400(gateway: GatewayClient) -> None:
    response = gateway.http.post(
        "/graphql",
        content=b"{not json",
        headers={
            "Authorization": "Bearer demo-social-services",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_oversized_body_is_413_before_parsing(gateway: GatewayClient) -> None:
    response = gateway.post("{ viewer { role } }" + " " * 300_000)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_coercion_errors_do_not_echo_the_citizens_keys(gateway: GatewayClient) -> None:
    literal = gateway.post("{ citizen(fiscalNumber: 3000000000011) { id } }")
    variable = gateway.post(
        "query($i: PivotIdentityInput) { citizen(identity: $i) { id } }",
        {"i": ALICE_IDENTITY | {"sex": "X"}},
    )
    for response in (literal, variable):
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert_no_leak(response, ALICE, "FICTIF", "1984-03-14")


def test_directive_overloading_gets_a_single_error(gateway: GatewayClient) -> None:
    response = gateway.post("query { __typename" + " @aa" * 30 + " }")
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_COMPLEX"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"{}",
        b'{"query": 5}',
        b'{"query": "{ viewer { role } }", "variables": [1]}',
        b'[{"query": "{ viewer { role } }"}]',
        b'{"query": "query A { viewer { role } }", "operationName": "B"}',
        b"[" * 60_000 + b"]" * 60_000,
    ],
)
def test_http_level_errors_are_json_with_a_code(
    gateway: GatewayClient, body: bytes
) -> None:
    response = gateway.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": "Bearer demo-social-services",
            "Content-Type": "application/json",
            "X-Purpose": "test",
        },
    )
    assert 400 <= response.status_code < 500
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "x-request-id" in response.headers


def test_aliases_cannot_multiply_the_keys_of_one_request(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    keys = [{"fiscalNumber": f"3{i:012d}"} for i in range(60)]
    query = """query($k: [CitizenKeyInput!]!) {
      a: citizens(keys: $k) { id } b: citizens(keys: $k) { id } }"""
    result = gateway.query(query, {"k": keys})
    assert (
        result["data"] is None
    )  # `citizens` is non-null: the refused field nulls data
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    assert upstream_calls(sandbox, "dgfip") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'\xff\xfe{"query": "x"}',
        b'{"query": "\xff"}',
        b'{"query": "query A { viewer { role } }", "operationName": "\\ud800"}',
        b"[" * 60_000 + b"]" * 60_000,
        b"null",
        b'"a string"',
    ],
)
def test_a_malformed_body_is_logged_as_one_short_warning(
    gateway: GatewayClient, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = gateway.http.post(
            "/graphql",
            content=body,
            headers={
                "Authorization": "Bearer demo-social-services",
                "Content-Type": "application/json",
                "X-Purpose": "test",
            },
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    ours = [r for r in caplog.records if r.name.startswith("citizen_graph")]
    assert [(r.levelname, r.exc_info) for r in ours] == [("WARNING", None)]


def test_a_document_full_of_mistakes_gets_a_bounded_answer(
    gateway: GatewayClient,
) -> None:
    unknown = " ".join(f"f{i}" for i in range(200))
    result = gateway.query(f"{{ viewer {{ {unknown} }} }}")
    assert len(result["errors"]) == 11
    assert result["errors"][-1]["message"].startswith("Too many errors")
