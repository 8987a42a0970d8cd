"""The pre-execution decision, verdict by verdict: what is forbidden, what is hollow (no
upstream call), which citizens are asked for and what they would cost."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse
from syrupy.assertion import SnapshotAssertion

from citizen_graph.auth.decision import Decision, decide
from citizen_graph.auth.policy import load_policy
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.schema import build_schema
from citizen_graph.schema.subjects import SubjectReader
from tests.conftest import ALICE, ALICE_IDENTITY
from tests.snapshots import JsonSnapshot

SCHEMA = build_schema()._schema
POLICY = load_policy(SCHEMA)
IDS = CitizenIdCodec("test-secret")


def verdict(
    query: str, role: str = "family_portal", variables: dict[str, Any] | None = None
) -> Decision:
    return decide(
        SCHEMA, parse(query), None, variables, POLICY, role, SubjectReader(IDS)
    )


def test_a_forbidden_leaf_is_keyed_by_its_response_path_alias_included() -> None:
    found = verdict(
        f'{{ c: citizen(fiscalNumber: "{ALICE}") {{ taxNotice {{ t: taxAmount shares }} }} }}'
    )
    assert found.forbidden == {("c", "taxNotice", "t"): "TaxNotice.taxAmount"}
    assert found.allowed >= {"TaxNotice.shares", "Citizen.taxNotice"}
    assert found.denied == {"TaxNotice.taxAmount"}


def test_an_upstream_field_with_nothing_readable_below_is_hollow() -> None:
    found = verdict(
        f'{{ citizen(fiscalNumber: "{ALICE}") {{ taxNotice {{ taxAmount }} }} }}'
    )
    assert found.hollow == {("citizen", "taxNotice")}
    assert found.cost == 0


def test_a_type_the_role_may_not_read_is_forbidden_at_the_object() -> None:
    found = verdict(
        f'{{ citizen(fiscalNumber: "{ALICE}") {{ taxNotice {{ incomeYear }} }} }}',
        role="address_check",
    )
    assert found.forbidden == {("citizen", "taxNotice"): "Citizen.taxNotice"}


def test_fragments_inline_fragments_and_skip_are_followed_as_execution_would() -> None:
    query = """query($no: Boolean!) { citizen(fiscalNumber: "3000000000011") {
      ...T ... on Citizen { address { label banId } }
      familyQuotient @include(if: $no) { value } } }
      fragment T on Citizen { taxNotice { taxAmount } }"""
    found = verdict(query, variables={"no": False})
    assert found.forbidden == {
        ("citizen", "address", "banId"): "Address.banId",
        ("citizen", "taxNotice", "taxAmount"): "TaxNotice.taxAmount",
    }
    assert found.hollow == {("citizen", "taxNotice")}
    assert "Citizen.familyQuotient" not in found.allowed | found.denied


def test_the_citizens_asked_for_are_counted_across_root_fields_and_aliases() -> None:
    query = """query($k: [CitizenKeyInput!]!, $i: PivotIdentityInput) {
      one: citizen(fiscalNumber: "3000000000011") { id }
      two: citizen(identity: $i) { id }
      many: citizens(keys: $k) { id } }"""
    keys = [{"fiscalNumber": "3000000000012"}, {"fiscalNumber": "bad"}]
    found = verdict(query, variables={"k": keys, "i": ALICE_IDENTITY})
    assert found.citizens == 4  # the malformed key counts toward the limit...
    assert [k.fiscal_number for k in found.subjects] == [ALICE, None, "3000000000012"]
    assert (
        found.subjects[1].identity is not None
    )  # ...but only well-formed keys are subjects


def test_entities_are_counted_and_their_ids_decoded() -> None:
    from citizen_graph.records import CitizenKey

    known = IDS.encode(CitizenKey(fiscal_number=ALICE, identity=None))
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Citizen { identity { birthName } } } }"""
    representations = [{"__typename": "Citizen", "id": known}, {"id": "garbage"}]
    found = verdict(query, variables={"r": representations})
    assert found.citizens == 2
    assert [k.fiscal_number for k in found.subjects] == [ALICE]


def test_the_cost_is_citizens_times_the_upstream_fields_really_fetched() -> None:
    query = """query($k: [CitizenKeyInput!]!) { citizens(keys: $k) {
      id identity { birthName } taxNotice { referenceTaxIncome taxAmount }
      older: taxNotice(incomeYear: 2022) { taxAmount } } }"""
    found = verdict(query, variables={"k": [{"fiscalNumber": ALICE}] * 7})
    assert found.cost == 7 * 2  # id costs nothing; `older` is hollow for this role


def test_merged_fields_count_their_citizens_once() -> None:
    query = f"""{{ citizen(fiscalNumber: "{ALICE}") {{ id }}
      citizen(fiscalNumber: "{ALICE}") {{ identity {{ birthName }} }} }}"""
    found = verdict(query)
    assert (found.citizens, found.cost) == (1, 1)


def test_variables_that_do_not_coerce_leave_the_decision_incomplete() -> None:
    found = verdict(
        "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { id } }",
        variables={"k": "nope"},
    )
    assert not found.complete
    assert found.subjects == []


BYPASS_SHAPES = {
    "direct": "{ c: citizen(fiscalNumber: $f) { taxNotice { taxAmount shares } } }",
    "alias": "{ c: citizen(fiscalNumber: $f) { t: taxNotice { amount: taxAmount } } }",
    "named_fragment": "{ c: citizen(fiscalNumber: $f) { ...T } } "
    "fragment T on Citizen { taxNotice { taxAmount referenceTaxIncome } }",
    "inline_fragment": "{ c: citizen(fiscalNumber: $f) { ... on Citizen { "
    "address { banId label } } } }",
    "skip_include_with_variables": "{ c: citizen(fiscalNumber: $f) { "
    "taxNotice @include(if: $yes) { taxAmount } "
    "address @skip(if: $yes) { banId } } }",
    "entities": "query($r: [_Any!]!) { _entities(representations: $r) { "
    "... on Citizen { taxNotice { taxAmount } identity { birthName } } } }",
    "typename_alone": "{ c: citizen(fiscalNumber: $f) { familyQuotient { "
    "children { __typename } } } }",
    "list": "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { "
    "studentStatus { enrolled } taxNotice { grossIncome dependents } } }",
    "introspection_alongside": "{ __schema { __typename } "
    "c: citizen(fiscalNumber: $f) { taxNotice { taxAmount } } }",
}


def declared(query: str) -> str:
    """Give each shape the variable declarations it uses."""
    if query.startswith("query"):
        return query
    uses = [v for v in ("f", "yes") if f"${v}" in query]
    types = {"f": "String", "yes": "Boolean!"}
    head = ", ".join(f"${v}: {types[v]}" for v in uses)
    return f"query({head}) {query}" if head else query


@pytest.mark.parametrize("shape", sorted(BYPASS_SHAPES))
@pytest.mark.parametrize("role", ["family_portal", "address_check"])
def test_each_bypass_shape_gets_the_same_verdicts_as_its_snapshot(
    shape: str, role: str, snapshot: SnapshotAssertion
) -> None:
    from citizen_graph.records import CitizenKey

    known = IDS.encode(CitizenKey(fiscal_number=ALICE, identity=None))
    variables = {
        "f": ALICE,
        "yes": True,
        "r": [{"__typename": "Citizen", "id": known}],
        "k": [{"fiscalNumber": ALICE}, {"fiscalNumber": "3000000000012"}],
    }
    found = verdict(declared(BYPASS_SHAPES[shape]), role=role, variables=variables)
    assert {
        "forbidden": {"/".join(path): c for path, c in sorted(found.forbidden.items())},
        "hollow": sorted("/".join(path) for path in found.hollow),
        "permitted": sorted(found.allowed),
        "denied": sorted(found.denied),
        "citizens": found.citizens,
        "cost": found.cost,
    } == snapshot.use_extension(JsonSnapshot)
