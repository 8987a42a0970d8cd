"""Field-level authorization: whatever the query's shape, a role never reads, and no upstream
is called for, what its policy does not grant; the rest of the answer is intact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import (
    ADDRESS_CHECK,
    ALICE,
    ALICE_IDENTITY,
    FAMILY,
    SOCIAL,
    STUDENT_AID,
    GatewayClient,
    upstream_calls,
)


@dataclass(frozen=True)
class Case:
    key: str
    parent: str  # the Citizen field holding the forbidden data
    leaf: str
    at_parent: bool  # the role may not read Citizen.<parent> at all
    readable: str  # a readable sibling selection on Citizen
    readable_path: tuple[str, str]

    def forbidden_path(
        self, *prefix: Any, parent: str = "", leaf: str = ""
    ) -> list[Any]:
        path = [*prefix, parent or self.parent]
        return path if self.at_parent else [*path, leaf or self.leaf]


CASES = {
    "family_portal": Case(
        FAMILY, "taxNotice", "taxAmount", False,
        "taxNotice { referenceTaxIncome }", ("taxNotice", "referenceTaxIncome"),
    ),
    "student_aid": Case(
        STUDENT_AID, "address", "label", True,
        "taxNotice { referenceTaxIncome }", ("taxNotice", "referenceTaxIncome"),
    ),
    "address_check": Case(
        ADDRESS_CHECK, "taxNotice", "referenceTaxIncome", True,
        "address { label }", ("address", "label"),
    ),
}  # fmt: skip


def shapes(case: Case) -> dict[str, tuple[str, list[Any]]]:
    """Each shape: (query, expected error path)."""
    p, leaf, readable = case.parent, case.leaf, case.readable
    head = "query($f: String) { citizen(fiscalNumber: $f) {"
    flags = (
        "query($f: String, $yes: Boolean!, $no: Boolean!) { citizen(fiscalNumber: $f) {"
    )
    return {
        "direct": (
            f"{head} {readable} {p} {{ {leaf} }} }} }}",
            case.forbidden_path("citizen"),
        ),
        "alias": (
            f"{head} {readable} fp: {p} {{ fl: {leaf} }} }} }}",
            case.forbidden_path("citizen", parent="fp", leaf="fl"),
        ),
        "named fragment": (
            f"{head} {readable} ...F }} }} fragment F on Citizen {{ {p} {{ {leaf} }} }}",
            case.forbidden_path("citizen"),
        ),
        "inline fragment": (
            f"{head} {readable} ... on Citizen {{ {p} {{ ... {{ {leaf} }} }} }} }} }}",
            case.forbidden_path("citizen"),
        ),
        "directives and variables": (
            f"{flags} {readable} {p} @include(if: $yes) {{ {leaf} @skip(if: $no) }} }} }}",
            case.forbidden_path("citizen"),
        ),
        "introspection alongside": (
            f"{head} {readable} {p} {{ {leaf} }} }} __schema {{ __typename }} }}",
            case.forbidden_path("citizen"),
        ),
    }


VARIABLES = {"f": ALICE, "yes": True, "no": False}


def value_at(data: Any, path: list[Any]) -> Any:
    for step in path:
        data = data[step]
    return data


@pytest.mark.parametrize("role", sorted(CASES))
@pytest.mark.parametrize(
    "shape",
    [
        "direct",
        "alias",
        "named fragment",
        "inline fragment",
        "directives and variables",
        "introspection alongside",
    ],
)
def test_forbidden_field_is_null_with_forbidden_at_its_path_whatever_the_shape(
    gateway: GatewayClient, role: str, shape: str
) -> None:
    case = CASES[role]
    query, path = shapes(case)[shape]
    variables = VARIABLES if "$yes" in query else {"f": ALICE}
    result = gateway.query(query, variables, key=case.key)
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == path
    assert value_at(result["data"], path) is None
    assert value_at(result["data"]["citizen"], list(case.readable_path)) is not None


@pytest.mark.parametrize("role", sorted(CASES))
def test_entities_cannot_reach_a_forbidden_field(
    gateway: GatewayClient, role: str
) -> None:
    case = CASES[role]
    citizen_id = gateway.query(
        "query($f: String) { citizen(fiscalNumber: $f) { id } }",
        {"f": ALICE},
        key=case.key,
    )["data"]["citizen"]["id"]
    query = f"""query($r: [_Any!]!) {{ _entities(representations: $r) {{
        ... on Citizen {{ {case.readable} {case.parent} {{ {case.leaf} }} }} }} }}"""
    result = gateway.query(
        query, {"r": [{"__typename": "Citizen", "id": citizen_id}]}, key=case.key
    )
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == case.forbidden_path("_entities", 0)


@pytest.mark.parametrize("role", sorted(CASES))
def test_a_list_of_citizens_gets_the_error_at_each_index(
    gateway: GatewayClient, role: str
) -> None:
    case = CASES[role]
    query = f"""query($k: [CitizenKeyInput!]!) {{ citizens(keys: $k) {{
        {case.readable} {case.parent} {{ {case.leaf} }} }} }}"""
    keys = [{"fiscalNumber": ALICE}, {"fiscalNumber": "3000000000021"}]
    result = gateway.query(query, {"k": keys}, key=case.key)
    paths = sorted(e["path"] for e in result["errors"])
    assert paths == [
        case.forbidden_path("citizens", 0),
        case.forbidden_path("citizens", 1),
    ]
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in result["errors"])


@pytest.mark.parametrize("role", sorted(CASES))
def test_asking_only_forbidden_fields_calls_no_upstream(
    gateway: GatewayClient, sandbox: httpx.Client, role: str
) -> None:
    case = CASES[role]
    query = f"""query($f: String) {{ citizen(fiscalNumber: $f) {{
        {case.parent} {{ {case.leaf} }} }} }}"""
    result = gateway.query(query, {"f": ALICE}, key=case.key)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
    for upstream in ("dgfip", "api_particulier", "ban"):
        assert upstream_calls(sandbox, upstream) == 0, upstream


def test_family_portal_reads_the_reference_income_never_the_tax_amount(
    gateway: GatewayClient,
) -> None:
    query = """query($f: String, $i: PivotIdentityInput) {
      citizen(fiscalNumber: $f, identity: $i) {
        taxNotice { referenceTaxIncome shares taxAmount grossIncome }
        familyQuotient { value children { givenNames } beneficiaries { givenNames } } } }"""
    result = gateway.query(query, {"f": ALICE, "i": ALICE_IDENTITY}, key=FAMILY)
    citizen = result["data"]["citizen"]
    assert citizen["taxNotice"]["referenceTaxIncome"] > 0
    assert citizen["taxNotice"]["taxAmount"] is None
    assert citizen["taxNotice"]["grossIncome"] is None
    assert citizen["familyQuotient"]["children"]
    assert citizen["familyQuotient"]["beneficiaries"] is None
    assert sorted(e["path"][-1] for e in result["errors"]) == [
        "beneficiaries",
        "grossIncome",
        "taxAmount",
    ]


def test_social_services_read_everything(gateway: GatewayClient) -> None:
    query = """query($f: String) { citizen(fiscalNumber: $f) {
      taxNotice { taxAmount grossIncome } address { latitude banId } } }"""
    result = gateway.query(query, {"f": ALICE}, key=SOCIAL)
    assert "errors" not in result
    assert result["data"]["citizen"]["taxNotice"]["taxAmount"] > 0


def test_a_warm_cache_never_widens_a_role(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = (
        "query($f: String) { citizen(fiscalNumber: $f) { taxNotice { taxAmount } } }"
    )
    assert gateway.query(query, {"f": ALICE}, key=SOCIAL)["data"]["citizen"][
        "taxNotice"
    ]
    result = gateway.query(query, {"f": ALICE}, key=FAMILY)
    assert result["data"]["citizen"]["taxNotice"]["taxAmount"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_concurrent_roles_never_see_each_others_fields(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    import concurrent.futures

    gateway = start_gateway()
    query = """query($f: String) { citizen(fiscalNumber: $f) {
      taxNotice { referenceTaxIncome taxAmount } } }"""

    def ask(key: str) -> tuple[str, Any]:
        result = gateway.query(query, {"f": ALICE}, key=key)
        return key, result["data"]["citizen"]["taxNotice"]["taxAmount"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, [SOCIAL, FAMILY] * 25))
    assert all((amount is None) == (key == FAMILY) for key, amount in answers)


def test_introspection_needs_a_credential(gateway: GatewayClient) -> None:
    response = gateway.post("{ __schema { types { name } } }", key=None)
    assert response.status_code == 401
    assert "data" not in response.json() or response.json()["data"] is None


def test_a_role_requiring_a_purpose_without_one_is_400(gateway: GatewayClient) -> None:
    response = gateway.http.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {FAMILY}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"


def test_two_role_headers_are_refused(gateway: GatewayClient) -> None:
    response = gateway.http.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers=[
            ("Authorization", "Bearer demo-all-roles"),
            ("X-Role", "address_check"),
            ("X-Role", "social_services"),
        ],
    )
    assert response.status_code == 400


def test_viewer_lists_exactly_the_roles_readable_fields(gateway: GatewayClient) -> None:
    result = gateway.query("{ viewer { role readableFields } }", key=ADDRESS_CHECK)
    fields = set(result["data"]["viewer"]["readableFields"])
    assert "Address.latitude" in fields
    assert "Identity.birthName" in fields
    assert "TaxNotice.referenceTaxIncome" not in fields
    assert "Identity.birthDate" not in fields


def test_typename_alone_under_a_readable_field_is_not_forbidden(
    gateway: GatewayClient,
) -> None:
    query = """query($i: PivotIdentityInput) { citizen(identity: $i) {
      familyQuotient { value children { __typename } } } }"""
    result = gateway.query(query, {"i": ALICE_IDENTITY}, key=FAMILY)
    assert "errors" not in result
    assert result["data"]["citizen"]["familyQuotient"]["children"][0] == {
        "__typename": "FamilyMember"
    }
