"""What a habilitation's scopes leave out, decided in process: the scope table, fields
whose route depends on an argument, and the message that names the habilitation."""

from __future__ import annotations

from typing import Any

from graphql import parse

from citizen_graph.auth.decision import Decision, decide
from citizen_graph.auth.habilitations import SCOPE_FIELDS, uncovered
from citizen_graph.auth.policy import load_policy
from citizen_graph.auth.quotas import looked_up
from citizen_graph.connectors import CITIZEN_KEYS
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.records import CitizenKey, PivotIdentity
from citizen_graph.schema import build_schema
from citizen_graph.schema.subjects import SubjectReader
from tests.conftest import ALICE

SCHEMA = build_schema()._schema
POLICY = load_policy(SCHEMA)
READER = SubjectReader(CitizenIdCodec("ids"))
LATEST_ONLY = uncovered({"dgfip": {"RessourceIRDerniere2"}})
YEARLY_ONLY = uncovered({"dgfip": {"RessourceIR"}})


def verdict(
    query: str, left_out: frozenset[str], role: str = "social_services"
) -> Decision:
    return decide(SCHEMA, parse(query), None, {}, POLICY, role, READER, left_out, "h")


def test_every_coordinate_of_the_scope_table_exists_in_the_schema() -> None:
    for table in SCOPE_FIELDS.values():
        for coordinates in table.values():
            for coordinate in coordinates:
                type_name, _, field = coordinate.partition(".")
                name, _, argument = field.rstrip(")").partition("(")
                definition = SCHEMA.type_map[type_name].fields[name]  # type: ignore[union-attr]
                assert not argument or argument in definition.args


def test_the_yearly_route_needs_its_own_scope() -> None:
    citizen = f'citizen(fiscalNumber: "{ALICE}")'
    yearly = f"{{ {citizen} {{ taxNotice(incomeYear: 2023) {{ incomeYear }} }} }}"
    latest = f"{{ {citizen} {{ taxNotice {{ incomeYear }} }} }}"
    assert verdict(yearly, LATEST_ONLY).uncovered == {"Citizen.taxNotice"}
    assert verdict(latest, LATEST_ONLY).forbidden == {}
    assert verdict(yearly, YEARLY_ONLY).forbidden == {}
    assert verdict(latest, YEARLY_ONLY).uncovered == {"Citizen.taxNotice"}


def test_an_object_left_empty_by_the_scopes_names_the_habilitation() -> None:
    left_out = uncovered({"api_particulier": {"mesri_inscription"}, "dgfip": set()})
    citizen = f'citizen(fiscalNumber: "{ALICE}")'
    query = (
        f"{{ {citizen} {{ studentStatus {{ admissions {{ institutionName }} }} }} }}"
    )
    decision = verdict(query, left_out, "student_aid")
    assert "StudentStatus.admissions" in decision.uncovered
    assert "Admission.institutionName" in decision.uncovered


def test_without_an_upstreams_section_none_of_its_fields_is_covered() -> None:
    left_out = uncovered({"dgfip": {"RessourceIRDerniere2"}})
    assert {"Citizen.familyQuotient", "Citizen.studentStatus"} <= left_out
    assert "Citizen.identity" not in left_out


IDENTITY = PivotIdentity(
    "FICTIF", ("ALICE",), __import__("datetime").date(1984, 3, 14), "F"
)


def test_a_key_with_both_identifiers_counts_each_one_its_upstreams_use() -> None:
    key = CitizenKey(ALICE, IDENTITY)
    both: dict[str, Any] = {"dgfip": 1, "api_particulier": 1}
    assert len(looked_up([key], both, CITIZEN_KEYS)) == 2
    assert len(looked_up([key], {"dgfip": 1}, CITIZEN_KEYS)) == 1
    assert looked_up([key], {}, CITIZEN_KEYS) == []  # nothing fetched: nothing counted
