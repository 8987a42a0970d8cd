"""Introspection shows each caller only what its role may read, with its habilitation's
scopes: the very schema `citizen-graph schema --role R` prints (one snapshot per role)."""

from __future__ import annotations

import httpx
import pytest
from graphql import build_client_schema, get_introspection_query, print_schema

from citizen_graph.auth.policy import load_policy, restricted_sdl
from citizen_graph.schema import build_schema
from citizen_graph.settings import LimitSettings
from tests.conftest import (
    ADDRESS_CHECK,
    FAMILY,
    SOCIAL,
    STUDENT_AID,
    GatewayClient,
    upstream_calls,
)

ROUTER = "demo-router"
KEYS = {
    "address_check": ADDRESS_CHECK,
    "family_portal": FAMILY,
    "router": ROUTER,  # its introspection: `_service { sdl }`, all it may read
    "social_services": SOCIAL,
    "student_aid": STUDENT_AID,
}


def role_sdl(role: str) -> str:
    """What `citizen-graph schema --role ROLE` prints, as graphql-core prints it."""
    schema = build_schema(LimitSettings())
    from graphql import build_schema as from_sdl

    sdl = restricted_sdl(schema.as_str(), load_policy(schema._schema), role)
    return print_schema(from_sdl(sdl, assume_valid_sdl=True))


@pytest.mark.parametrize("role", sorted(KEYS))
def test_each_roles_introspection_is_its_readable_schema(
    module_gateway: GatewayClient, role: str, snapshot: object
) -> None:
    result = module_gateway.query(
        get_introspection_query(descriptions=True), key=KEYS[role]
    )
    introspected = print_schema(build_client_schema(result["data"]))
    assert introspected == role_sdl(role)
    assert introspected == snapshot


def test_a_type_the_role_may_not_read_does_not_exist_for_it(
    module_gateway: GatewayClient,
) -> None:
    query = '{ __type(name: "TaxNotice") { name fields { name } } }'
    assert module_gateway.query(query, key=ADDRESS_CHECK)["data"]["__type"] is None
    social = module_gateway.query(query, key=SOCIAL)["data"]["__type"]
    assert "taxAmount" in {f["name"] for f in social["fields"]}
    family = module_gateway.query(query, key=FAMILY)["data"]["__type"]
    assert "taxAmount" not in {f["name"] for f in family["fields"]}


def test_the_service_sdl_is_the_roles_too(module_gateway: GatewayClient) -> None:
    sdl = module_gateway.query("{ _service { sdl } }", key=ADDRESS_CHECK)["data"]
    assert "type TaxNotice" not in sdl["_service"]["sdl"]
    assert "@key" in sdl["_service"]["sdl"]  # still a federation subgraph's SDL


def test_introspection_beside_data_answers_both(module_gateway: GatewayClient) -> None:
    query = '{ viewer { role } __type(name: "TaxNotice") { name } }'
    data = module_gateway.query(query, key=ADDRESS_CHECK)["data"]
    assert data == {"viewer": {"role": "address_check"}, "__type": None}


def test_a_router_fetches_the_whole_sdl_for_composition(
    module_gateway: GatewayClient,
) -> None:
    sdl = module_gateway.query("{ _service { sdl } }", key=ROUTER)["data"]["_service"]
    assert "type TaxNotice" in sdl["sdl"]
    assert "taxAmount" in sdl["sdl"]
    assert "@key" in sdl["sdl"]
    # The SDL is a string it composes from, not a schema it may query.
    query = '{ __type(name: "TaxNotice") { name } }'
    assert module_gateway.query(query, key=ROUTER)["data"]["__type"] is None


def test_a_router_reads_nothing_else(
    module_gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    result = module_gateway.query(
        '{ citizen(fiscalNumber: "3000000000011") { id } viewer { role } }', key=ROUTER
    )
    assert result["data"] is None  # viewer is non-null: its refusal nulls the root
    assert {e["extensions"]["code"] for e in result["errors"]} == {"FORBIDDEN"}
    assert upstream_calls(sandbox, "dgfip") == 0
