"""Work per request is bounded before execution: the document's shape, the citizens it asks
for and the upstream calls they would cost; a refused request runs nothing, then or later."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from graphql import get_introspection_query
from strawberry.extensions.validation_cache import _get_validate_cache

from tests.conftest import FAMILY, GatewayClient, upstream_calls
from tests.e2e.queries import MANY_CITIZENS
from tests.schema.test_limits import fan_out


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def fiscal_keys(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"fiscalNumber": f"3{i:012d}"} for i in range(start, start + count)]


@pytest.mark.parametrize("levels", [20, 30, 64])
def test_the_fragment_fan_out_is_refused_while_healthz_keeps_answering(
    gateway: GatewayClient, levels: int
) -> None:
    answers: list[httpx.Response] = []
    attack = threading.Thread(
        target=lambda: answers.extend(gateway.post(fan_out(levels)) for _ in range(5))
    )
    attack.start()
    health = [gateway.http.get("/healthz").status_code for _ in range(5)]
    attack.join(timeout=30)
    assert health == [200] * 5
    assert [codes(a.json()) for a in answers] == [["QUERY_TOO_COMPLEX"]] * 5


def test_the_validation_cache_is_hit_by_a_second_identical_request(
    gateway: GatewayClient,
) -> None:
    cache = _get_validate_cache(256)
    query = "{ viewer { role clientId } }"
    gateway.query(query)
    hits = cache.cache_info().hits
    gateway.query(query)
    assert cache.cache_info().hits == hits + 1


def test_introspection_has_a_depth_bound_of_its_own(gateway: GatewayClient) -> None:
    # The standard introspection query (what code generators send) is 11 deep.
    assert "errors" not in gateway.query(get_introspection_query(descriptions=True))
    deeper = "{ __schema { types { " + "ofType { " * 15 + "name" + " }" * 18
    assert codes(gateway.query(deeper)) == ["QUERY_TOO_COMPLEX"]


def test_several_operations_without_an_operation_name_are_bad_user_input(
    gateway: GatewayClient,
) -> None:
    document = "query A { viewer { role } } query B { viewer { clientId } }"
    assert codes(gateway.query(document)) == ["BAD_USER_INPUT"]
    named = gateway.http.post(
        "/graphql",
        json={"query": document, "operationName": "B"},
        headers={"Authorization": "Bearer demo-social-services", "X-Purpose": "t"},
    ).json()
    assert named["data"] == {"viewer": {"clientId": "demo-client-social-services"}}


def test_directives_repeated_on_one_field_give_one_error(
    gateway: GatewayClient,
) -> None:
    result = gateway.query("query { __typename" + " @aa" * 19 + " }")
    assert codes(result) == ["QUERY_TOO_COMPLEX"]


def test_a_request_over_the_citizen_limit_makes_no_upstream_call_even_later(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = """query($k: [CitizenKeyInput!]!) {
      a: citizens(keys: $k) { identity { birthName } }
      b: citizens(keys: $k) { identity { birthName } } }"""
    result = gateway.query(query, {"k": fiscal_keys(60)})
    assert (result["data"], codes(result)) == (None, ["BAD_USER_INPUT"])
    time.sleep(1.0)  # nothing may run after the answer either
    assert upstream_calls(sandbox, "dgfip") == 0


def test_the_cost_limit_counts_citizens_times_upstream_backed_fields(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    six_fields = """query($k: [CitizenKeyInput!]!) { citizens(keys: $k) {
      identity { birthName } taxNotice { incomeYear }
      older: taxNotice(incomeYear: 2022) { incomeYear } address { label }
      familyQuotient { value } studentStatus { enrolled } } }"""
    result = gateway.query(six_fields, {"k": fiscal_keys(84)})
    assert (result["data"], codes(result)) == (None, ["QUERY_TOO_COMPLEX"])
    assert "504" in result["errors"][0]["message"]
    assert sum(upstream_calls(sandbox, u) for u in ("dgfip", "api_particulier")) == 0


def test_fields_the_role_may_not_read_cost_nothing(gateway: GatewayClient) -> None:
    # family_portal may read none of these: no upstream call would be made for them.
    forbidden_only = """query($k: [CitizenKeyInput!]!) { citizens(keys: $k) {
      taxNotice { taxAmount grossIncome } studentStatus { enrolled } } }"""
    result = gateway.query(forbidden_only, {"k": fiscal_keys(100)}, key=FAMILY)
    assert set(codes(result)) == {"FORBIDDEN"}


def test_the_all_fields_query_for_one_hundred_citizens_fits_the_cost_limit(
    gateway: GatewayClient,
) -> None:
    result = gateway.post(MANY_CITIZENS, {"keys": fiscal_keys(100, 10**11)}).json()
    assert "QUERY_TOO_COMPLEX" not in codes(result)


def test_a_body_full_of_badly_typed_variables_is_refused_before_coercion(
    gateway: GatewayClient,
) -> None:
    query = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { id } }"
    hostile = {"k": [{"identity": {"givenNames": [1] * 90_000}}]}
    answers: list[httpx.Response] = []
    attack = threading.Thread(
        target=lambda: answers.append(gateway.post(query, hostile))
    )
    attack.start()
    health = [gateway.http.get("/healthz").status_code for _ in range(3)]
    attack.join(timeout=30)
    assert health == [200] * 3
    assert codes(answers[0].json()) == ["QUERY_TOO_COMPLEX"]
