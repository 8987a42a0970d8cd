"""`audit verify` and `audit find` over a whole deployment: every worker's and replica's chain,
each with its rotated files, named by files, folders or glob patterns; unclean stops named."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from citizen_graph.auth.audit import AuditConfig, AuditLog, SubjectHasher, seal_path
from citizen_graph.cli import main

SECRET, CHAIN = "subjects", "the-chain"
ALICE, BOB = "3000000000011", "3000000000012"


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "gateway.toml"
    path.write_text(f'[audit]\nsecret = "{SECRET}"\nchain_secret = "{CHAIN}"\n')
    return str(path)


def record(time: str, client: str, fiscal_number: str = ALICE) -> dict[str, object]:
    """What the gateway writes, reduced to what `find` prints."""
    return {
        "time": time,
        "request_id": f"req-{time[-9:-6]}",
        "client_id": client,
        "recipient": "21350238800019",
        "role": "family_portal",
        "purpose": "Cantine",
        "citizens": [
            {"fiscal_number": SubjectHasher(SECRET).fiscal_number(fiscal_number)}
        ],
        "fields_permitted": ["TaxNotice.referenceTaxIncome"],
        "padding": "x" * 120,  # so that a small rotate_bytes rotates every few records
    }


def write_chain(
    path: Path, records: list[dict[str, object]], *, rotate_bytes: int = 10_000_000
) -> Path:
    """A chain written by the real writer, sealed at shutdown, as a stopped process leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log = AuditLog(AuditConfig(path, SECRET, CHAIN, rotate_bytes=rotate_bytes))
    for entry in records:
        log.write(entry)
    log.close()
    return path


@pytest.fixture
def workers(tmp_path: Path) -> tuple[Path, Path]:
    """Two workers' chains in one folder; the first one rotated twice."""
    folder = tmp_path / "audit"
    first = write_chain(
        folder / "audit.jsonl.worker-101",
        [record(f"2026-12-01T10:00:0{n}.000+00:00", "worker-a") for n in (1, 3, 5, 7)],
        rotate_bytes=500,
    )
    second = write_chain(
        folder / "audit.jsonl.worker-102",
        [record(f"2026-12-01T10:00:0{n}.000+00:00", "worker-b") for n in (2, 4)],
    )
    return first, second


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(argv))
    except SystemExit as exited:
        code = int(exited.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_folder_is_verified_one_chain_per_worker_with_its_rotated_files(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = workers
    rotated = sorted(first.parent.glob(f"{first.name}.2*"))
    assert len(rotated) >= 2
    assert seal_path(first).exists()
    assert first.with_name(first.name + ".lock").exists()
    code, out, _ = run(capsys, "audit", "verify", str(first.parent), "--config", config)
    assert code == 0
    assert out.splitlines() == [
        f"citizen-graph: {first} (+{len(rotated)} rotated): chain intact",
        f"citizen-graph: {second}: chain intact",
        "citizen-graph: 2 chain(s) intact",
    ]


def test_a_tampered_line_is_reported_for_its_own_chain_only(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = workers
    lines = second.read_text().splitlines()
    lines[0] = lines[0].replace("worker-b", "worker-x")
    second.write_text("".join(line + "\n" for line in lines))
    rotated = len(list(first.parent.glob(f"{first.name}.2*")))
    code, out, err = run(
        capsys, "audit", "verify", str(first.parent), "--config", config
    )
    assert code == 1
    assert out.splitlines() == [
        f"citizen-graph: {first} (+{rotated} rotated): chain intact",
        f"citizen-graph: {second}: chain broken, 1 problem(s)",
        f"  {second}: record 2: previous-line MAC does not match: the line before was "
        "altered or removed, or the chain was written with another key",
    ]
    assert err == "citizen-graph: 1 of 2 chain(s) broken\n"


def test_a_quoted_glob_pattern_is_expanded_and_side_files_are_left_out(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = workers
    pattern = str(
        first.parent / "audit.jsonl*"
    )  # matches the .seal and .lock files too
    code, out, _ = run(capsys, "audit", "verify", pattern, "--config", config)
    assert code == 0
    assert out.splitlines()[-1] == "citizen-graph: 2 chain(s) intact"


def test_files_named_in_any_order_are_grouped_into_chains_oldest_first(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = workers
    named = [str(p) for p in sorted(first.parent.glob("audit.jsonl.worker-*"))]
    named = [n for n in named if not n.endswith((".seal", ".lock"))]
    code, out, _ = run(
        capsys, "audit", "verify", *reversed(named), str(second), "--config", config
    )
    assert code == 0, out
    assert out.splitlines()[-1] == "citizen-graph: 2 chain(s) intact"


def test_each_replica_folder_holds_its_own_chain_under_the_same_file_name(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for replica in ("replica-1", "replica-2"):
        write_chain(
            tmp_path / replica / "audit.jsonl",
            [record("2026-12-01T10:00:01.000+00:00", replica)],
        )
    pattern = str(tmp_path / "replica-*")
    code, out, _ = run(capsys, "audit", "verify", pattern, "--config", config)
    assert code == 0
    assert (
        f"citizen-graph: {tmp_path / 'replica-1' / 'audit.jsonl'}: chain intact" in out
    )
    assert (
        f"citizen-graph: {tmp_path / 'replica-2' / 'audit.jsonl'}: chain intact" in out
    )


def test_a_rotated_file_named_without_its_live_file_is_a_broken_chain(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = workers
    oldest = sorted(first.parent.glob(f"{first.name}.2*"))[0]
    code, out, _ = run(capsys, "audit", "verify", str(oldest), "--config", config)
    assert code == 1
    assert "the chain rotated into a newer file that was not given" in out


def test_a_file_moved_aside_is_left_out_of_a_folder_and_read_when_named_alone(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(
        tmp_path / "audit.jsonl", [record("2026-12-01T10:00:01.000+00:00", "a")]
    )
    seal_path(path).unlink()
    AuditLog(AuditConfig(path, SECRET, CHAIN)).close()  # moves the unsealed file aside
    [aside] = tmp_path.glob("audit.jsonl.unsealed-*")
    code, out, _ = run(capsys, "audit", "verify", str(tmp_path), "--config", config)
    assert code == 1  # the live chain says it was restarted
    assert f"citizen-graph: note: {aside}: moved aside by the gateway" in out
    assert f"the file was moved aside as {aside.name}" in out
    assert f"citizen-graph: {aside}:" not in out
    code, out, _ = run(capsys, "audit", "verify", str(aside), "--config", config)
    assert code == 1
    assert f"citizen-graph: {aside}: chain broken" in out
    assert "the seal file is missing" in out


@pytest.mark.parametrize(
    "argument", ["missing.jsonl", "missing-*.jsonl", "empty-folder"], ids=str
)
def test_a_path_that_matches_nothing_is_a_clear_error(
    argument: str,
    tmp_path: Path,
    config: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "empty-folder" / "audit.jsonl.lock").touch()  # a side file is no chain
    for command in (["verify"], ["find", "--fiscal-number", ALICE]):
        code, _, err = run(
            capsys, "audit", *command, str(tmp_path / argument), "--config", config
        )
        assert code == 1
        assert err.startswith(f"citizen-graph: {tmp_path / argument}: no ")
        assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["dangling link", "not text"])
def test_an_unreadable_file_is_a_clear_error(
    kind: str, tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    if kind == "dangling link":
        path.symlink_to(tmp_path / "gone.jsonl")
    else:
        path.write_bytes(b"\xff\xfe\x00garbage\n")
    for command in (["verify"], ["find", "--fiscal-number", ALICE]):
        code, _, err = run(capsys, "audit", *command, str(path), "--config", config)
        assert code == 1
        assert err.startswith(f"citizen-graph: cannot read {path}")
        assert "Traceback" not in err


def test_find_merges_every_chains_records_in_time_order_naming_each_file(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = workers
    write_chain(
        first.parent / "audit.jsonl.worker-103",
        [record("2026-12-01T10:00:06.000+00:00", "worker-c", BOB)],
    )
    code, out, _ = run(
        capsys,
        *("audit", "find", str(first.parent / "*"), "--fiscal-number", ALICE),
        *("--config", config),
    )
    assert code == 0
    lines = out.splitlines()
    times = [line.split(" ")[1] for line in lines]
    assert times == [f"2026-12-01T10:00:0{n}.000+00:00" for n in range(1, 8) if n != 6]
    sources = [line.split(": ")[0] for line in lines]
    assert sources[1] == sources[3] == str(second)
    assert all(s.startswith(str(first)) for s in sources[0::2])
    assert set(sources[0::2]) != {str(first)}  # some come from the rotated files
    assert "worker-c" not in out  # Bob's record


def test_find_still_reads_one_file(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(
        tmp_path / "audit.jsonl", [record("2026-12-01T10:00:01.000+00:00", "portal")]
    )
    code, out, _ = run(
        capsys, "audit", "find", str(path), "--fiscal-number", ALICE, "--config", config
    )
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith(f"{path}: 2026-12-01T10:00:01.000+00:00 portal (SIRET ")
    assert line.endswith("fields: TaxNotice.referenceTaxIncome")


def test_a_seal_file_named_alone_is_no_audit_file(
    workers: tuple[Path, Path], config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seal = seal_path(workers[0])
    code, _, err = run(capsys, "audit", "verify", str(seal), "--config", config)
    assert code == 1
    assert (
        err
        == f"citizen-graph: {seal}: no audit file there (seal, lock and .tmp files are not)\n"
    )


def test_find_names_a_line_that_is_not_a_record_without_a_traceback(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"prev": "0"}\n[1, 2]\n')
    code, _, err = run(
        capsys, "audit", "find", str(path), "--fiscal-number", ALICE, "--config", config
    )
    assert code == 1
    assert err.startswith(
        f"citizen-graph: {path} holds a line that is not an audit record"
    )


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from citizen_graph.auth.audit import AuditConfig, AuditLog
log = AuditLog(AuditConfig(Path(sys.argv[1]), "subjects", "the-chain"))
for n in range(int(sys.argv[2])):
    log.write({"time": f"2026-12-01T11:{n // 60:02d}:{n % 60:02d}.000+00:00"})
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_run(path: Path, records: int) -> None:
    """A gateway process SIGKILLed after writing `records` records: it never seals them."""
    argv = [sys.executable, "-c", KILLED_RUN, str(path), str(records)]
    assert subprocess.run(argv, check=False).returncode == -signal.SIGKILL


def test_a_replica_killed_then_stopped_cleanly_keeps_its_unclean_stop_visible(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(
        tmp_path / "audit" / "audit.jsonl",
        [record(f"2026-12-01T10:00:0{n}.000+00:00", "portal") for n in (1, 2)],
    )
    killed_run(path, 373)
    verify = ("audit", "verify", str(path.parent), "--config", config)
    code, out, _ = run(capsys, *verify)
    assert code == 0
    assert f"note: {path}: 373 records after the last seal (not sealed: " in out
    write_chain(path, [])  # started again on the same file, then SIGTERM
    code, out, _ = run(capsys, *verify)
    assert code == 0  # a crash is no tampering
    recovered = json.loads(path.read_text().splitlines()[376])["time"]
    assert out.splitlines() == [
        f"citizen-graph: {path}: chain intact, 1 unclean stop",
        f"  {path}: record 377: unclean stop: at {recovered} the gateway found that the "
        "run before ended without its shutdown seal (its last whole line at "
        "2026-12-01T11:06:12.000+00:00): 373 record(s) after the last seal were left "
        "unsealed",
        "citizen-graph: 1 chain(s) intact, 1 unclean stop",
    ]


def test_a_broken_chain_names_its_unclean_stops_too(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(
        tmp_path / "audit.jsonl", [record("2026-12-01T10:00:01.000+00:00", "a")]
    )
    killed_run(path, 2)
    write_chain(path, [])
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace('"a"', '"b"')
    path.write_text("".join(line + "\n" for line in lines))
    code, out, err = run(capsys, "audit", "verify", str(path), "--config", config)
    assert code == 1
    assert out.splitlines()[0] == (
        f"citizen-graph: {path}: chain broken, 2 problem(s), 1 unclean stop"
    )
    assert f"  {path}: record 5: unclean stop: at " in out
    assert err == "citizen-graph: 1 of 1 chain(s) broken, 1 unclean stop\n"


def test_find_reads_past_a_line_cut_short_by_a_crash(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_chain(
        tmp_path / "audit.jsonl", [record("2026-12-01T10:00:01.000+00:00", "a")]
    )
    with path.open("ab") as file:  # killed in the middle of a write
        file.write(b'{"time":"2026-12-01T10:00:02.000+00:00","request_id":"req-0')
    find = ("audit", "find", str(path), "--fiscal-number", ALICE, "--config", config)
    code, out, _ = run(capsys, *find)
    assert (code, len(out.splitlines())) == (0, 1)
    write_chain(path, [record("2026-12-01T10:00:03.000+00:00", "b")])
    code, out, _ = run(capsys, *find)
    assert code == 0
    assert [line.split(" ")[1] for line in out.splitlines()] == [
        "2026-12-01T10:00:01.000+00:00",
        "2026-12-01T10:00:03.000+00:00",
    ]
    code, out, _ = run(capsys, "audit", "verify", str(path), "--config", config)
    assert code == 0
    assert "the line before was cut short by the crash (59 bytes)" in out
