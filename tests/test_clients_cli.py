"""`citizen-graph clients check` validates a clients file as start-up does, naming what is
wrong and never printing a secret; `schema --role R --client C` shows the intersection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from citizen_graph.cli import main

# Read by `{ env = "CG_TEST_SECOND_SECRET" }` references.
os.environ.setdefault("CG_TEST_SECOND_SECRET", "a-second-secret")

SECRET = "a-dgfip-secret-never-printed"
TOKEN = "an-api-particulier-token-never-printed"


def clients_file(tmp_path: Path, habilitation: str = "", roles: str = "") -> Path:
    (tmp_path / "dgfip").write_text(SECRET)
    (tmp_path / "token").write_text(TOKEN)
    path = tmp_path / "clients.toml"
    path.write_text(
        f"""
[[clients]]
id = "ccas"
key_sha256 = "{"0" * 64}"
recipient = "26350238800029"
roles = {roles or '["social_services", "student_aid"]'}
  [[clients.habilitations]]
  id = "ccas-aide-sociale"
  procedure = "Aide sociale facultative"
  roles = ["social_services"]
  [clients.habilitations.api_particulier]
  token = {{ file = "{tmp_path}/token" }}
  scopes = ["cnaf_quotient_familial"]
  [clients.habilitations.dgfip]
  client_id = "ccas"
  client_secret = {{ file = "{tmp_path}/dgfip" }}
  scopes = ["RessourceIRDerniere2"]
{habilitation}"""
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_valid_file_is_described_without_its_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "clients", "check", str(clients_file(tmp_path)))
    assert code == 0
    assert "ccas-aide-sociale" in out
    assert "cnaf_quotient_familial" in out
    assert "role student_aid: no habilitation" in out
    assert SECRET not in out
    assert TOKEN not in out


SHARED_CLIENT = """
  [[clients.habilitations]]
  id = "ccas-etudiants"
  procedure = "Aide aux étudiants"
  roles = ["student_aid"]
  [clients.habilitations.dgfip]
  client_id = "ccas"
  client_secret = { env = "CG_TEST_SECOND_SECRET" }
  scopes = ["RessourceIRDerniere2"]
"""
SECOND = """
  [[clients.habilitations]]
  id = "ccas-bis"
  procedure = "Autre"
  roles = ["social_services"]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"habilitation": SECOND}, "role 'social_services' is served by two"),
        ({"roles": '["student_aid"]'}, "serves role 'social_services'"),
        ({"roles": '["mayor", "social_services"]'}, "unknown role 'mayor'"),
        (
            {
                "habilitation": SHARED_CLIENT,
                "roles": '["social_services", "student_aid"]',
            },
            "share one DGFiP client_id",
        ),
    ],
)
def test_an_invalid_file_names_what_is_wrong_and_exits_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    code, out = run(capsys, "clients", "check", str(clients_file(tmp_path, **change)))
    assert code == 1
    assert message in out
    assert "Traceback" not in out
    assert SECRET not in out


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('{ file = "TMP/dgfip" }', f'"{SECRET}"', "must be given by reference"),
        ('{ file = "TMP/dgfip" }', '{ env = "CG_TEST_UNSET_VARIABLE" }', "not set"),
        ('{ file = "TMP/dgfip" }', '{ file = "TMP/missing" }', "cannot be read"),
        ('"cnaf_quotient_familial"', '"cnaf_everything"', "unknown api_particulier"),
        (
            'client_id = "ccas"',
            "client_id = 12",
            "client_id must be a non-empty string",
        ),
        ('id = "ccas-aide-sociale"', "id = 42", "id must be a non-empty string"),
        (
            'roles = ["social_services"]\n',
            'roles = ["social_services", "social_services"]\n',
            "lists a role twice",
        ),
        (
            'roles = ["social_services", "student_aid"]',
            'roles = ["social_services", "student_aid"]\nquota = { citizens = 0.5 }',
            "positive whole number",
        ),
        (
            'roles = ["social_services", "student_aid"]',
            'roles = ["social_services", "student_aid"]\nquota = { window_s = inf }',
            "window_s must be",
        ),
    ],
)
def test_secrets_and_scopes_are_checked(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    message: str,
) -> None:
    path = clients_file(tmp_path)
    text = path.read_text().replace(str(tmp_path), "TMP")
    path.write_text(text.replace(old, new).replace("TMP", str(tmp_path)))
    code, out = run(capsys, "clients", "check", str(path))
    assert code == 1
    assert message in out
    assert SECRET not in out


def test_schema_for_a_client_shows_what_its_habilitation_covers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, full = run(capsys, "schema", "--role", "family_portal")
    code, partial = run(
        capsys,
        "schema",
        "--role",
        "family_portal",
        "--client",
        "demo-client-ccas-partial",
    )
    assert code == 0
    assert "children:" in full
    assert "children:" not in partial
    assert "value:" in partial


def test_a_secret_file_that_is_not_text_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = clients_file(tmp_path)
    (tmp_path / "dgfip").write_bytes(b"\xff\xfe\x00")
    code, out = run(capsys, "clients", "check", str(path))
    assert code == 1
    assert "cannot be read" in out
    assert "Traceback" not in out
