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


def test_errors_that_only_say_someone_is_unknown_are_logged_below_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from graphql import GraphQLError

    from citizen_graph.errors import NotFound, UpstreamUnavailable

    schema = build_schema()
    not_found = GraphQLError("x", original_error=NotFound("dgfip"))
    unavailable = GraphQLError("x", original_error=UpstreamUnavailable("dgfip"))
    with caplog.at_level(logging.INFO, logger="citizen_graph.graphql"):
        schema.process_errors([not_found, not_found])
        assert not caplog.records
        schema.process_errors([not_found, unavailable])
    [record] = caplog.records
    assert record.codes == {"NOT_FOUND": 1, "UPSTREAM_UNAVAILABLE": 1}  # type: ignore[attr-defined]
