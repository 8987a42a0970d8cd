from syrupy.assertion import SnapshotAssertion

from citizen_graph.schema import build_schema, field_coordinates
from tests.snapshots import GraphQLSnapshot


def test_sdl_matches_the_snapshot(snapshot: SnapshotAssertion) -> None:
    assert build_schema().as_str() == snapshot.use_extension(GraphQLSnapshot)


def test_schema_has_the_contract_fields() -> None:
    coordinates = set(field_coordinates(build_schema()))
    assert {
        "Citizen.taxNotice",
        "Citizen.familyQuotient",
        "TaxNotice.referenceTaxIncome",
        "Address.matchScore",
        "FamilyQuotient.children",
        "StudentStatus.admissions",
        "Viewer.readableFields",
    } <= coordinates
