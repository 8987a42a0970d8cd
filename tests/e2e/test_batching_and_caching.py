"""Each upstream is called once per key at most, identical keys once, and never twice for
the same upstream request while the cache holds it."""

import uuid
from functools import _lru_cache_wrapper
from typing import Any, cast

import httpx
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from tests.conftest import (
    ALICE,
    ALICE_IDENTITY,
    PAUL,
    GatewayClient,
    catalogue,
    upstream_calls,
)
from tests.e2e.queries import MANY_CITIZENS, ONE_CITIZEN, keys_of

QF = "quotient_familial"
STUDENT = "statut_etudiant"


def test_one_citizen_all_fields_calls_each_upstream_operation_once(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = gateway.query(
        ONE_CITIZEN, {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    )
    [not_a_student] = result["errors"]  # ALICE is no student: MESRI answers 404
    assert not_a_student["path"] == ["citizen", "studentStatus"]
    assert upstream_calls(sandbox, "dgfip") == 1
    assert upstream_calls(sandbox, "dgfip", "deuxans") == 1
    assert upstream_calls(sandbox, "api_particulier", QF) == 1
    assert upstream_calls(sandbox, "api_particulier", STUDENT) == 1
    assert upstream_calls(sandbox, "ban") == 1


def test_fifty_citizens_make_at_most_one_call_per_citizen_and_one_ban_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    citizens = catalogue(sandbox, 50)
    result = gateway.query(MANY_CITIZENS, {"keys": keys_of(citizens)})
    assert len(result["data"]["citizens"]) == 50
    unexpected = [
        e for e in result.get("errors", []) if e["extensions"]["code"] != "NOT_FOUND"
    ]
    assert unexpected == []
    assert upstream_calls(sandbox, "dgfip") <= 50
    assert upstream_calls(sandbox, "api_particulier", QF) <= 50
    assert upstream_calls(sandbox, "api_particulier", STUDENT) <= 50
    assert upstream_calls(sandbox, "ban") == 1  # one CSV batch for every address
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert "429" not in stats["statuses"]  # the client-side limiter kept under 20/s
    assert "409" not in stats["statuses"]


def test_a_couples_identical_keys_are_fetched_once(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    keys = [{"fiscalNumber": ALICE}, {"fiscalNumber": ALICE}, {"fiscalNumber": PAUL}]
    query = """query($keys: [CitizenKeyInput!]!) { citizens(keys: $keys) {
      taxNotice { rfr: referenceTaxIncome } again: taxNotice { shares } } }"""
    result = gateway.query(query, {"keys": keys})
    notices = [c["taxNotice"]["rfr"] for c in result["data"]["citizens"]]
    assert len(set(notices)) == 1  # one notice for the couple
    assert upstream_calls(sandbox, "dgfip") == 2  # ALICE once, PAUL once


def test_the_same_query_twice_makes_no_second_upstream_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    variables = {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    first = gateway.query(ONE_CITIZEN, variables)
    sandbox.delete("/_sandbox/stats")
    second = gateway.query(ONE_CITIZEN, variables)
    assert second == first
    for upstream in ("dgfip", "api_particulier", "ban"):
        assert upstream_calls(sandbox, upstream) == 0, upstream


def test_identity_alone_calls_neither_api_particulier_nor_ban(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }"
    result = gateway.query(query, {"f": ALICE})
    assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    assert upstream_calls(sandbox, "dgfip") == 1
    assert upstream_calls(sandbox, "api_particulier") == 0
    assert upstream_calls(sandbox, "ban") == 0


def test_family_quotient_alone_calls_no_dgfip(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = """query($f: String, $i: PivotIdentityInput) {
      citizen(fiscalNumber: $f, identity: $i) { familyQuotient { value } } }"""
    result = gateway.query(query, {"f": ALICE, "i": ALICE_IDENTITY})
    assert result["data"]["citizen"]["familyQuotient"]["value"] > 0
    assert upstream_calls(sandbox, "dgfip") == 0
    assert upstream_calls(sandbox, "api_particulier", QF) == 1
    assert upstream_calls(sandbox, "ban") == 0


def test_identity_tax_and_address_share_one_dgfip_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = """query($f: String) { citizen(fiscalNumber: $f) {
      identity { birthName } taxNotice { incomeYear } address { label } } }"""
    gateway.query(query, {"f": ALICE})
    assert upstream_calls(sandbox, "dgfip") == 1
    assert upstream_calls(sandbox, "ban") == 1


def test_the_cache_is_shared_by_requests_but_not_by_habilitations(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = """query($i: PivotIdentityInput) {
      citizen(identity: $i) { familyQuotient { value } } }"""
    variables = {"i": ALICE_IDENTITY}
    gateway.query(query, variables, key="demo-social-services")
    gateway.query(query, variables, key="demo-social-services")  # cached
    assert upstream_calls(sandbox, "api_particulier", QF) == 1
    # Same SIRET, another habilitation: its own call, with its own token.
    gateway.query(query, variables, key="demo-all-roles")
    assert upstream_calls(sandbox, "api_particulier", QF) == 2
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert sorted(stats["credentials"].values()) == [1, 1]


def test_a_typename_only_selection_calls_no_upstream(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = """query($f: String, $i: PivotIdentityInput, $k: [CitizenKeyInput!]!) {
      citizen(fiscalNumber: $f, identity: $i) { __typename }
      citizens(keys: $k) { __typename } }"""
    variables = {"f": ALICE, "i": ALICE_IDENTITY, "k": [{"fiscalNumber": PAUL}]}
    result = gateway.query(query, variables)
    assert result["data"] == {
        "citizen": {"__typename": "Citizen"},
        "citizens": [{"__typename": "Citizen"}],
    }
    for upstream in ("dgfip", "api_particulier", "ban"):
        assert upstream_calls(sandbox, upstream) == 0, upstream


def test_a_repeated_query_is_parsed_and_validated_once(
    gateway: GatewayClient,
) -> None:
    parse = cast("_lru_cache_wrapper[Any]", _get_parse_cache(256))  # ParserCache's
    validate = cast("_lru_cache_wrapper[Any]", _get_validate_cache(256))
    query = f"query Unique_{uuid.uuid4().hex} {{ viewer {{ role clientId }} }}"
    before = parse.cache_info(), validate.cache_info()
    for _ in range(3):
        gateway.query(query)
    after = parse.cache_info(), validate.cache_info()
    for cache, old, new in zip(("parse", "validate"), before, after, strict=True):
        assert (new.misses - old.misses, new.hits - old.hits) == (1, 2), cache
