"""The policy file: validated against the schema, deny by default, non-null rule."""

from pathlib import Path

import pytest
import strawberry
from graphql import GraphQLObjectType

from citizen_graph.auth.introspection import SchemaViews
from citizen_graph.auth.policy import (
    PUBLIC_TYPES,
    PolicyError,
    build_policy,
    governed_types,
    load_policy,
)
from citizen_graph.cli import main
from citizen_graph.schema import build_schema

SCHEMA = build_schema()._schema


def policy(read: list[str], **extra: object) -> dict[str, object]:
    return {"roles": {"clerk": {"read": read, **extra}}}


def test_the_default_policy_ships_the_four_roles_and_the_router() -> None:
    default = load_policy(SCHEMA)
    assert set(default.roles) == {
        "family_portal",
        "social_services",
        "student_aid",
        "address_check",
        "router",  # a federation router's: the SDL only (auth/introspection.py)
    }
    readable = default.roles["router"].readable
    assert {c for c in readable if not c.startswith(("Citizen.id", "Viewer."))} == set()
    assert default.roles["family_portal"].purpose_required
    assert not default.may_read("family_portal", "TaxNotice", "taxAmount")
    assert default.may_read("family_portal", "TaxNotice", "referenceTaxIncome")


def test_everything_not_listed_is_denied_but_id_and_viewer() -> None:
    clerk = build_policy(SCHEMA, policy([]))
    assert clerk.may_read("clerk", "Citizen", "id")
    assert clerk.may_read("clerk", "Viewer", "readableFields")
    assert not clerk.may_read("clerk", "Citizen", "identity")


def test_a_wildcard_grants_every_field_of_a_type() -> None:
    clerk = build_policy(SCHEMA, policy(["Citizen.address", "Address.*"]))
    assert clerk.may_read("clerk", "Address", "banId")


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (["Citizn.identity"], "unknown type 'Citizn'"),
        (["Citizen.identiti"], "unknown field 'Citizen.identiti'"),
        (["Query.citizen"], "unknown type 'Query'"),
        (
            ["Citizen.taxNotice", "TaxNotice.taxAmount"],
            "non-null field TaxNotice.incomeYear",
        ),
        (["Address.*"], "no readable field leads to it"),
    ],
)
def test_invalid_policies_are_refused_with_a_message_naming_the_problem(
    read: list[str], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        build_policy(SCHEMA, policy(read))


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(PolicyError, match="unknown key purpose"):
        build_policy(SCHEMA, policy([], purpose=True))
    with pytest.raises(PolicyError, match="at least one role"):
        build_policy(SCHEMA, {"roles": {}})


def test_a_role_composing_the_schema_reads_nothing_whatever_its_name() -> None:
    composer = build_policy(SCHEMA, policy([], composes_schema=True))
    assert composer.composes_schema("clerk")
    assert composer.composing_roles() == {"clerk"}
    assert not composer.composes_schema("unknown role")
    assert load_policy(SCHEMA).composing_roles() == {"router"}
    assert composer.may_read("clerk", "Query", "_service")
    assert composer.may_read("clerk", "_Service", "sdl")
    for always in (("Query", "viewer"), ("Viewer", "role"), ("Citizen", "id")):
        assert not composer.may_read("clerk", *always), always
    # Its view is that: the SDL it composes from is the whole (introspection.py).
    views = SchemaViews(SCHEMA, build_schema().as_str(), composer)
    schema, _ = views.view("clerk", frozenset())
    assert schema.query_type is not None
    assert set(schema.query_type.fields) == {"_service"}
    assert schema.get_type("Citizen") is None
    with pytest.raises(PolicyError, match="composes the schema reads nothing"):
        build_policy(SCHEMA, policy(["Citizen.identity"], composes_schema=True))
    with pytest.raises(PolicyError, match="composes_schema must be true or false"):
        build_policy(SCHEMA, policy([], composes_schema="yes"))


def test_policy_check_accepts_the_default_and_refuses_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["policy", "check"])
    assert "is valid" in capsys.readouterr().out
    bad = tmp_path / "policy.toml"
    bad.write_text('[roles.clerk]\nread = ["TaxNotice.rfr"]\n')
    with pytest.raises(SystemExit) as exited:
        main(["policy", "check", str(bad)])
    assert exited.value.code == 1
    assert "unknown field 'TaxNotice.rfr'" in capsys.readouterr().err


def test_every_object_type_is_governed_or_declared_public() -> None:
    governed = governed_types(SCHEMA)
    for name, graphql_type in SCHEMA.type_map.items():
        if isinstance(graphql_type, GraphQLObjectType) and not name.startswith("__"):
            assert name in governed or name in PUBLIC_TYPES, name
    assert {"Citizen", "TaxNotice", "FamilyMember", "Admission", "Viewer"} <= governed


def test_a_new_object_type_is_governed_and_denied_until_granted() -> None:
    @strawberry.type
    class Pet:
        name: str | None

    @strawberry.type
    class Owner:
        pet: Pet | None

    @strawberry.type
    class Query:
        owner: Owner | None

    schema = strawberry.Schema(query=Query)._schema
    closed = build_policy(schema, {"roles": {"clerk": {"read": []}}})
    assert {"Owner", "Pet"} <= closed.governed
    assert not closed.may_read("clerk", "Pet", "name")
    opened = build_policy(schema, policy(["Owner.pet", "Pet.name"]))
    assert opened.may_read("clerk", "Pet", "name")


def test_a_type_the_policy_does_not_know_is_denied() -> None:
    clerk = build_policy(SCHEMA, policy(["Citizen.address", "Address.*"]))
    assert not clerk.may_read("clerk", "SomeNewType", "anyField")
    assert clerk.may_read("clerk", "Query", "citizen")
    assert clerk.may_read("clerk", "__Type", "name")
