import pytest
from syrupy.assertion import SnapshotAssertion

from citizen_graph.cli import main
from citizen_graph.schema import build_schema
from tests.snapshots import GraphQLSnapshot


def test_sdl_matches_the_snapshot(snapshot: SnapshotAssertion) -> None:
    assert build_schema().as_str() == snapshot.use_extension(GraphQLSnapshot)


@pytest.mark.parametrize(
    "role", ["family_portal", "social_services", "student_aid", "address_check"]
)
def test_schema_for_each_role_matches_its_snapshot(
    role: str, snapshot: SnapshotAssertion, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["schema", "--role", role])
    assert capsys.readouterr().out == snapshot.use_extension(GraphQLSnapshot)


def test_the_family_portals_schema_has_no_tax_amount(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["schema", "--role", "family_portal"])
    sdl = capsys.readouterr().out
    assert "referenceTaxIncome" in sdl
    assert "taxAmount" not in sdl
    assert "StudentStatus" not in sdl


def test_an_unknown_role_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["schema", "--role", "mayor"])
    assert "unknown role 'mayor'" in capsys.readouterr().err
