"""Queries generated from the schema (hypothesis-graphql), valid and invalid, against a live
gateway: never a 5xx, a traceback, a URL, a fiscal number or a code outside the contract.

Bounded and reproducible: a fixed seed, 300 examples in all, no example database.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
from graphql import (
    IntValueNode,
    NameNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, queries

from citizen_graph.schema import build_schema
from tests.conftest import GatewayClient

# The schema itself: its printed SDL names federation directives it does not define.
SCHEMA = build_schema()._schema
CONTRACT_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN_ROLE",
    "PURPOSE_REQUIRED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "MISSING_KEY",
    "NOT_FOUND",
    "UPSTREAM_UNAVAILABLE",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
}  # and INTERNAL, which a generated query must never cause
FISCAL_NUMBER = re.compile(r"(?<!\d)\d{13}(?!\d)")
FUZZ = settings(
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
    # The autouse `clean_environ` fixture is function-scoped and harmless here; the
    # network round trip makes generation look slow.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def text() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


def string(value: str) -> StringValueNode:
    return StringValueNode(value=value)


def representation(typename: str, citizen_id: str) -> ValueNode:
    return ObjectValueNode(
        fields=(
            ObjectFieldNode(name=NameNode(value="__typename"), value=string(typename)),
            ObjectFieldNode(name=NameNode(value="id"), value=string(citizen_id)),
        )
    )


SCALARS: dict[str, st.SearchStrategy[ValueNode]] = {
    "Date": st.one_of(
        st.dates(datetime.date(1900, 1, 1), datetime.date(2030, 12, 31)).map(
            lambda date: string(date.isoformat())
        ),
        text().map(string),
    ),
    "_Any": st.one_of(
        st.builds(representation, st.sampled_from(["Citizen", "Viewer"]), text()),
        text().map(string),
        st.integers().map(lambda n: IntValueNode(value=str(n))),
    ),
}


@pytest.fixture(scope="module")
def gateway(module_gateway: GatewayClient) -> GatewayClient:
    return module_gateway


def assert_within_the_contract(gateway: GatewayClient, query: str) -> None:
    response = gateway.post(query)
    assert response.status_code < 500, (query, response.text)
    result = response.json()
    if isinstance(result.get("data"), dict) and "_service" in result["data"]:
        result["data"].pop("_service")  # the SDL links the federation spec by URL
    body = json.dumps(result, ensure_ascii=False)
    for forbidden in ("Traceback", "http://", "https://"):
        assert forbidden not in body, (query, body)
    assert not FISCAL_NUMBER.search(body), (query, body)
    codes = {(e.get("extensions") or {}).get("code") for e in result.get("errors", [])}
    assert codes <= CONTRACT_CODES, (query, body)


@seed(6)
@settings(FUZZ, max_examples=200)
@given(query=queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.POSITIVE))
def test_valid_generated_queries_stay_within_the_contract(
    gateway: GatewayClient, query: str
) -> None:
    assert_within_the_contract(gateway, query)


@seed(6)
@settings(FUZZ, max_examples=100)
@given(query=queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
def test_invalid_generated_queries_stay_within_the_contract(
    gateway: GatewayClient, query: str
) -> None:
    assert_within_the_contract(gateway, query)
