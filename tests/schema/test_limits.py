"""The document's shape is measured in one linear pass: work is counted, never timed."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, get_introspection_query, parse

from citizen_graph.errors import BadUserInput, QueryTooComplex
from citizen_graph.schema import build_schema
from citizen_graph.schema.limits import Shape, measure
from citizen_graph.settings import LimitSettings

UNBOUNDED = LimitSettings(max_fields=10**30, max_repeats=10**30, max_depth=10**6)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def fan_out(levels: int) -> str:
    """Each fragment spreads the next one twice: 2^levels fields once expanded."""
    fragments = [
        f"fragment F{i} on Viewer {{ role ...F{i + 1} ...F{i + 1} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Viewer {{ role }}")
    return "{ viewer { ...F0 } } " + " ".join(fragments)


def shape(schema: GraphQLSchema, query: str, **limits: int) -> Shape:
    settings = LimitSettings(**limits) if limits else LimitSettings()
    return measure(schema, parse(query), None, settings)


@pytest.mark.parametrize("levels", [20, 30, 64])
def test_the_fan_out_document_is_refused_after_each_fragment_is_read_once(
    schema: GraphQLSchema, levels: int
) -> None:
    found = shape(schema, fan_out(levels))
    assert isinstance(found.refusal, QueryTooComplex)
    assert found.fragments_expanded <= levels + 1


def test_fragments_are_summarised_once_however_often_they_are_spread(
    schema: GraphQLSchema,
) -> None:
    found = measure(schema, parse(fan_out(64)), None, UNBOUNDED)
    assert found.refusal is None
    assert found.fields == 2**65  # viewer + the 2^65 - 1 roles of the expansion
    assert found.fragments_expanded == 65


def test_an_ordinary_query_fits_every_limit(schema: GraphQLSchema) -> None:
    found = shape(
        schema,
        """{ citizen(fiscalNumber: "3000000000011") {
             id identity { birthName givenNames }
             familyQuotient { value children { givenNames birthDate } } }
           viewer { role } }""",
    )
    assert found.refusal is None
    assert (found.depth, found.fields) == (3, 12)


def test_introspection_counts_toward_a_depth_bound_of_its_own(
    schema: GraphQLSchema,
) -> None:
    standard = shape(schema, get_introspection_query(descriptions=True))
    assert standard.refusal is None
    sixteen = "{ __schema { types { " + "ofType { " * 15 + "name" + " }" * 18
    found = shape(schema, sixteen)
    assert isinstance(found.refusal, QueryTooComplex)
    assert "introspection" in found.refusal.message or "depth" in found.refusal.message


def test_aliases_are_counted_once_fragments_are_expanded(schema: GraphQLSchema) -> None:
    fragment = "fragment A on Viewer { a: role b: role c: role d: role }"
    spreads = " ".join(f"v{i}: viewer {{ ...A }}" for i in range(3))
    found = shape(schema, f"{{ {spreads} }} {fragment}")
    assert found.aliases == 15
    assert found.refusal is None
    four = " ".join(f"v{i}: viewer {{ ...A }}" for i in range(4))
    assert isinstance(
        shape(schema, f"{{ {four} }} {fragment}").refusal, QueryTooComplex
    )


def test_one_field_repeated_past_the_limit_is_refused(schema: GraphQLSchema) -> None:
    assert shape(schema, "{ viewer { " + "role " * 10 + "} }").refusal is None
    inline = "{ viewer { " + "... on Viewer { role } " * 11 + "} }"
    assert isinstance(shape(schema, inline).refusal, QueryTooComplex)


def test_expanded_fields_past_the_limit_are_refused(schema: GraphQLSchema) -> None:
    query = (
        "{ " + " ".join(f"v{i}: viewer {{ role clientId }}" for i in range(10)) + " }"
    )
    assert shape(schema, query, max_fields=30).refusal is None
    assert isinstance(shape(schema, query, max_fields=29).refusal, QueryTooComplex)


def test_many_directives_on_one_field_give_one_refusal(schema: GraphQLSchema) -> None:
    found = shape(schema, "query { __typename" + " @aa" * 19 + " }")
    assert isinstance(found.refusal, QueryTooComplex)
    assert "directives" in found.refusal.message


def test_an_unknown_or_repeated_directive_is_one_refusal(schema: GraphQLSchema) -> None:
    for query in (
        "{ __typename @aa }",
        "{ viewer { role @skip(if: false) @skip(if: false) } }",
    ):
        assert isinstance(shape(schema, query).refusal, BadUserInput)
    assert shape(schema, "{ viewer { role @skip(if: false) } }").refusal is None


def test_several_operations_need_an_operation_name(schema: GraphQLSchema) -> None:
    document = parse("query A { viewer { role } } query B { viewer { clientId } }")
    assert isinstance(
        measure(schema, document, None, LimitSettings()).refusal, BadUserInput
    )
    assert measure(schema, document, "B", LimitSettings()).refusal is None


def test_a_fragment_cycle_is_refused_without_recursing(schema: GraphQLSchema) -> None:
    query = "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }"
    assert isinstance(shape(schema, query).refusal, BadUserInput)


def test_deep_nesting_is_refused_on_the_way_down(schema: GraphQLSchema) -> None:
    query = "{ " + "viewer { " * 50 + "role" + " }" * 51
    found = shape(schema, query)
    assert isinstance(found.refusal, QueryTooComplex)


def test_variables_past_the_limit_are_refused_before_any_coercion(
    schema: GraphQLSchema,
) -> None:
    document = parse("query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { id } }")
    limits = LimitSettings(max_variable_values=100)
    fits = {"k": [{"fiscalNumber": "3000000000011"}] * 49}  # 1 + 1 + 49 × 2 values
    assert measure(schema, document, None, limits, fits).refusal is None
    hostile = {"k": [{"identity": {"givenNames": [1] * 1000}}]}
    found = measure(schema, document, None, limits, hostile)
    assert isinstance(found.refusal, QueryTooComplex)


def test_schema_introspection_is_allowed_once_per_operation(
    schema: GraphQLSchema,
) -> None:
    once = "{ __schema { types { name } } viewer { role } }"
    assert shape(schema, once).refusal is None
    twice = "{ a: __schema { types { name } } b: __schema { queryType { name } } }"
    assert isinstance(shape(schema, twice).refusal, QueryTooComplex)
    spread = "{ ...S ...T } fragment S on Query { __schema { types { name } } } " + (
        "fragment T on Query { x: __schema { types { name } } }"
    )
    assert isinstance(shape(schema, spread).refusal, QueryTooComplex)
