"""The audit file itself: a keyed chain across restarts, rotations and unclean stops, seals,
retention, and `verify` against each way of tampering with it; refusal records."""

import asyncio
import datetime
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from citizen_graph.auth.audit import (
    CUT_NOTE,
    GENESIS,
    RECOVERY_MARK,
    SEAL_FILE_MISSING,
    AuditConfig,
    AuditLog,
    AuditTampered,
    ChainKey,
    SubjectHasher,
    refusal_record,
    rotated_files,
    seal_path,
    verify,
    verify_files,
)
from citizen_graph.records import CitizenKey, PivotIdentity

CHAIN = "chain-secret"


def config(path: Path, **values: Any) -> AuditConfig:
    return AuditConfig(path, "subject-secret", CHAIN, **values)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def sealed_log(tmp_path: Path, records: int = 4) -> Path:
    """A file of `records` records closed by a shutdown seal."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path))
    for n in range(records):
        log.write({"request_id": str(n)})
    log.close()
    return path


def stamped(n: int) -> dict[str, object]:
    return {"time": f"2026-12-01T10:00:{n:02d}.000+00:00", "request_id": str(n)}


def crashed(path: Path, records: Iterable[int]) -> None:
    """A run killed before its shutdown seal: its records written, the log never closed
    (dropping it lets go of its lock, as a killed process does)."""
    log = AuditLog(config(path))
    for n in records:
        log.write(stamped(n))


def reopened(path: Path, *records: int) -> None:
    """A run that writes `records` and stops cleanly."""
    log = AuditLog(config(path))
    for n in records:
        log.write(stamped(n))
    log.close()


def recoveries_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(path) if RECOVERY_MARK in line]


# What a crash in the middle of a write leaves: a line without its newline, here cut
# inside its last character.
CUT = '{"time":"2026-12-01T10:00:09.000+00:00","purpose":"Cantine été"'.encode()[:-1]


def relinked(lines: list[str], start: int, mac: Callable[[str], str]) -> list[str]:
    """The lines with every `prev` from line `start` (0-based) onward recomputed by `mac`:
    what someone re-hashing the chain after an edit would write."""
    out = lines[:start]
    for line in lines[start:]:
        record = json.loads(line)
        if out:
            record["prev"] = mac(out[-1])
        out.append(json.dumps(record, separators=(",", ":")))
    return out


def problems(path: Path, *, partial: bool = False) -> list[str]:
    return [str(b) for b in verify_files([path], CHAIN, partial=partial).breaks]


def test_the_chain_starts_from_genesis_and_links_every_record(tmp_path: Path) -> None:
    log = AuditLog(config(tmp_path / "audit.jsonl"))
    for n in range(3):
        log.write({"request_id": str(n)})
    lines = lines_of(tmp_path / "audit.jsonl")
    assert json.loads(lines[0])["prev"] == GENESIS
    assert verify(lines, CHAIN).breaks == []


def test_each_prev_is_the_hmac_of_the_previous_line_under_the_chain_secret(
    tmp_path: Path,
) -> None:
    log = AuditLog(config(tmp_path / "audit.jsonl"))
    log.write({"request_id": "a"})
    log.write({"request_id": "b"})
    first, second = lines_of(tmp_path / "audit.jsonl")
    assert json.loads(second)["prev"] == ChainKey(CHAIN).line(first)
    assert json.loads(second)["prev"] != hashlib.sha256(first.encode()).hexdigest()


def test_a_restarted_writer_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(config(path)).write({"request_id": "before"})
    AuditLog(config(path)).write({"request_id": "after"})
    assert verify(lines_of(path), CHAIN).breaks == []


def test_rotation_keeps_the_chain_and_purges_files_past_retention(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=200, retention_days=30))
    for n in range(6):
        log.write({"request_id": str(n), "padding": "x" * 80})
    rotated = rotated_files(path)
    assert rotated
    assert verify_files([*rotated, path], CHAIN).breaks == []
    old = rotated[0]
    past = time.time() - 31 * 86_400
    os.utime(old, (past, past))
    for n in range(4):
        log.write({"request_id": f"later-{n}", "padding": "x" * 80})
    assert not old.exists()
    assert seal_path(path).exists()  # the seal file is not a rotated file


def test_rotation_writes_a_seal_as_the_rotated_files_last_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=200))
    for n in range(3):
        log.write({"request_id": str(n), "padding": "x" * 80})
    [rotated] = rotated_files(path)
    *records, last = lines_of(rotated)
    seal = json.loads(last)["seal"]
    assert seal["reason"] == "rotation"
    assert seal["records"] == len(records) == 2
    assert seal["last"] == ChainKey(CHAIN).line(records[-1])
    assert datetime.datetime.fromisoformat(seal["time"])


def test_close_writes_a_shutdown_seal_and_the_seal_file(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=3)
    lines = lines_of(path)
    seal = json.loads(lines[-1])["seal"]
    assert (seal["reason"], seal["records"]) == ("shutdown", 3)
    side = json.loads(seal_path(path).read_text())
    assert side["lines"] == 4
    assert side["last"] == ChainKey(CHAIN).line(lines[-1])
    assert not list(tmp_path.glob("*.tmp"))  # written aside, then moved in place


def test_close_with_nothing_new_to_seal_writes_nothing(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=2)
    before = path.read_text()
    AuditLog(config(path)).close()
    assert path.read_text() == before
    AuditLog(config(tmp_path / "never.jsonl")).close()
    assert not (tmp_path / "never.jsonl").exists()


def test_the_chain_continues_across_rotation_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=200))
    for n in range(4):
        log.write({"request_id": str(n), "padding": "x" * 80})
    log.close()
    restarted = AuditLog(config(path, rotate_bytes=200))
    for n in range(4):
        restarted.write({"request_id": f"after-{n}", "padding": "x" * 80})
    restarted.close()
    files = [*rotated_files(path), path]
    assert len(files) >= 3
    report = verify_files(files, CHAIN)
    assert (report.breaks, report.unsealed) == ([], 0)


def test_records_after_the_last_seal_are_reported_but_do_not_fail(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path, records=2)
    crashed = AuditLog(config(path))  # restarted, then killed before its shutdown seal
    crashed.write({"request_id": "a"})
    crashed.write({"request_id": "b"})
    report = verify_files([path], CHAIN)
    assert report.breaks == []
    assert report.note == (
        "2 records after the last seal "
        "(not sealed: the gateway is running or did not stop cleanly)"
    )


def test_verify_names_an_altered_line(tmp_path: Path) -> None:
    path = sealed_log(tmp_path)
    lines = lines_of(path)
    lines[1] = lines[1].replace('"request_id":"1"', '"request_id":"9"')
    write_lines(path, lines)
    assert problems(path)[0].startswith(f"{path}: record 3: previous-line MAC")


def test_verify_names_a_removed_line(tmp_path: Path) -> None:
    path = sealed_log(tmp_path)
    lines = lines_of(path)
    write_lines(path, lines[:1] + lines[2:])
    assert problems(path)[0].startswith(f"{path}: record 2: previous-line MAC")


def test_verify_sees_the_oldest_record_removed_unless_partial(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path))
    for n in range(3):
        log.write({"request_id": str(n)})
    write_lines(path, lines_of(path)[1:])
    assert "does not start from GENESIS" in problems(path)[0]
    # --partial accepts purged files, not lines cut from the active one: its seal file
    # (written when the file was opened) says where it starts.
    assert problems(path, partial=True) == [
        f"{path}: record 1: does not continue from the sealed end of the previous file"
    ]


def test_verify_sees_a_truncated_tail(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=4)
    write_lines(path, lines_of(path)[:3])
    [problem] = problems(path)
    assert problem == (
        f"{path}: record 4: the tail was removed: the file ends at line 3, "
        "its seal file says 5 lines"
    )


def test_verify_sees_a_tail_truncated_back_to_an_earlier_seal(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=2)
    earlier = lines_of(path)
    again = AuditLog(config(path))
    again.write({"request_id": "later"})
    again.close()
    write_lines(path, earlier)  # a clean-looking file, ending with a real seal
    [problem] = problems(path)
    assert "the tail was removed: the file ends at line 3" in problem


def test_verify_sees_a_chain_rehashed_with_plain_sha256(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path))
    for n in range(4):
        log.write({"request_id": str(n)})
    lines = lines_of(path)
    lines[1] = lines[1].replace('"request_id":"1"', '"request_id":"9"')
    write_lines(
        path, relinked(lines, 1, lambda t: hashlib.sha256(t.encode()).hexdigest())
    )
    found = problems(path)
    assert found[0] == (
        f"{path}: record 2: linked by plain SHA-256, not by the chain key: "
        "the chain was re-hashed"
    )


def test_verify_sees_a_chain_rehashed_with_a_wrong_key(tmp_path: Path) -> None:
    path = sealed_log(tmp_path)
    lines = lines_of(path)
    lines[1] = lines[1].replace('"request_id":"1"', '"request_id":"9"')
    write_lines(path, relinked(lines, 1, ChainKey("a guessed key").line))
    found = problems(path)
    assert found[0].startswith(f"{path}: record 2: previous-line MAC does not match")
    assert found[-1] == (
        f"{path}: record 5: does not match the seal file: the tail was rewritten"
    )


def test_verify_sees_a_forged_seal_file(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=4)
    lines = lines_of(path)
    write_lines(path, lines[:3])
    side = json.loads(seal_path(path).read_text())
    side |= {
        "lines": 3,
        "last": ChainKey(CHAIN).line(lines[2]),
    }  # its MAC left as it was
    seal_path(path).write_text(json.dumps(side))
    assert problems(path) == [
        f"{seal_path(path)}: the seal file is not signed by the chain key: forged"
    ]


def test_verify_sees_an_edited_seal_line(tmp_path: Path) -> None:
    path = sealed_log(tmp_path, records=2)
    AuditLog(config(path)).write({"request_id": "after a restart"})
    lines = lines_of(path)
    lines[2] = lines[2].replace('"records":2', '"records":1')
    write_lines(path, lines)
    assert problems(path) == [
        f"{path}: record 3: the seal counts 1 records, the file has 2 before it",
        f"{path}: record 4: previous-line MAC does not match: the line before was "
        "altered or removed, or the chain was written with another key",
        f"{path}: record 3: does not match the seal file: the tail was rewritten",
    ]


def test_verify_sees_a_seal_line_forged_over_an_unsealed_tail(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path))  # still running: nothing sealed yet
    for n in range(3):
        log.write({"request_id": str(n)})
    lines = lines_of(path)
    known = json.loads(lines[2])["prev"]  # the MAC of line 2, readable in line 3
    seal = {"records": 2, "last": known, "reason": "shutdown"}
    forged = json.dumps({"seal": seal, "prev": known}, separators=(",", ":"))
    write_lines(path, [*lines[:2], forged])  # the last record dropped, "sealed"
    assert problems(path) == [
        f"{path}: record 3: a seal line the seal file does not know of (a real seal "
        "updates it): forged"
    ]


def test_verify_sees_a_removed_seal_file(tmp_path: Path) -> None:
    path = sealed_log(tmp_path)
    seal_path(path).unlink()
    assert problems(path) == [
        f"{seal_path(path)}: the seal file is missing (a gateway writes it when it opens a file): "
        "it was removed"
    ]


def test_a_writer_will_not_extend_a_file_that_no_longer_matches_its_seal(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path, records=3)
    write_lines(path, lines_of(path)[:2])
    with pytest.raises(AuditTampered, match=r"does not match audit\.jsonl\.seal"):
        AuditLog(config(path))


def test_a_refusal_record_holds_no_query_variables_identifier_or_key() -> None:
    alice = PivotIdentity("FICTIF", ("ALICE",), datetime.date(1984, 3, 14), "F")
    record = refusal_record(
        request_id="req-1",
        client_id="demo-client-family-portal",
        recipient="21350238800019",
        role="family_portal",
        purpose=None,  # refused: it carried an identifier
        purpose_given=True,
        operation="Dossier3000000000011",
        code="BAD_USER_INPUT",
        http_status=400,
        subjects=[CitizenKey("3000000000011", alice)],
        hasher=SubjectHasher("subject-secret"),
        duration_ms=1.5,
    )
    assert record["outcome"] == "refused"
    assert record["refusal"] == {"code": "BAD_USER_INPUT", "status": 400}
    assert (record["purpose"], record["purpose_given"]) == (None, True)
    assert record["operation"] is None
    assert set(record["citizens"][0]) == {"fiscal_number", "identity"}
    assert record["fields_permitted"] == record["fields_denied"] == []
    assert record["upstream_calls"] == []
    text = json.dumps(record)
    for absent in ("3000000000011", "FICTIF", "1984", "query", "variables", "Bearer"):
        assert absent not in text


def test_verify_sees_a_file_emptied_with_its_seal_file(tmp_path: Path) -> None:
    path = sealed_log(tmp_path)
    write_lines(path, [])
    seal_path(path).unlink()
    assert problems(path) == [f"{seal_path(path)}: {SEAL_FILE_MISSING}"]


def test_verify_sees_a_chain_whose_active_file_was_removed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=200))
    for n in range(6):
        log.write({"request_id": str(n)})
    rotated = rotated_files(path)
    assert verify_files([*rotated, path], CHAIN).breaks == []
    [problem] = verify_files(rotated, CHAIN).breaks
    assert "rotated into a newer file that was not given" in problem.reason


def test_a_new_file_gets_its_seal_file_before_any_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(config(path))
    assert seal_path(path).exists()


def test_a_file_without_its_seal_file_is_moved_aside_not_extended(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path)
    original = path.read_text()
    seal_path(path).unlink()
    log = AuditLog(config(path))
    [aside] = tmp_path.glob("audit.jsonl.unsealed-*")
    assert aside.read_text() == original
    assert problems(aside) == [f"{seal_path(aside)}: {SEAL_FILE_MISSING}"]
    log.write({"request_id": "after"})
    restart, after = (json.loads(line) for line in lines_of(path))
    assert (restart["event"], restart["moved_aside"]) == ("chain_restarted", aside.name)
    assert after["request_id"] == "after"
    assert aside not in rotated_files(path)
    [problem] = problems(path)
    assert "the chain was restarted" in problem  # said in the chain, not only in a log


def test_an_active_file_removed_with_its_seal_file_is_seen_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=400))
    for n in range(8):
        log.write({"request_id": f"first-{n}"})
    log.close()
    assert rotated_files(path)
    path.unlink()
    seal_path(path).unlink()
    AuditLog(config(path, rotate_bytes=400)).write({"request_id": "after-restart"})
    [problem] = verify_files([*rotated_files(path), path], CHAIN).breaks
    assert "the chain was restarted" in problem.reason
    assert "(removed)" in problem.reason


def test_append_writes_off_the_event_loop(tmp_path: Path) -> None:
    threads: list[threading.Thread] = []

    class Spy(AuditLog):
        def write(self, record: dict[str, object]) -> None:
            threads.append(threading.current_thread())
            super().write(record)

    log = Spy(config(tmp_path / "audit.jsonl"))
    asyncio.run(log.append({"request_id": "off-loop"}))
    assert threads
    assert threads[0] is not threading.main_thread()
    assert json.loads(lines_of(tmp_path / "audit.jsonl")[0])["request_id"] == "off-loop"


def test_a_second_writer_of_the_same_file_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    from citizen_graph.auth.audit import AuditInUse

    path = tmp_path / "audit.jsonl"
    first = AuditLog(config(path))
    with pytest.raises(AuditInUse, match="another gateway process"):
        AuditLog(config(path))
    first.write({"request_id": "one writer"})
    first.close()
    AuditLog(config(path)).write({"request_id": "the next one"})
    assert verify(lines_of(path), CHAIN).breaks == []


def test_concurrent_appends_are_written_by_one_writer_thread_in_one_chain(
    tmp_path: Path,
) -> None:
    threads: set[str] = set()

    class Spy(AuditLog):
        def write(self, record: dict[str, object]) -> None:
            threads.add(threading.current_thread().name)
            super().write(record)

    log = Spy(config(tmp_path / "audit.jsonl"))

    async def many() -> None:
        await asyncio.gather(*(log.append({"request_id": str(n)}) for n in range(50)))

    asyncio.run(many())
    log.close()
    assert threads == {"audit-writer"}
    lines = lines_of(tmp_path / "audit.jsonl")
    assert len(lines) == 51  # 50 records and the shutdown seal
    assert verify(lines, CHAIN).breaks == []


def test_a_failed_write_fails_the_append_that_asked_for_it(tmp_path: Path) -> None:
    class Full(AuditLog):
        def write(self, record: dict[str, object]) -> None:
            raise OSError(28, "No space left on device")

    log = Full(config(tmp_path / "audit.jsonl"))
    with pytest.raises(OSError, match="No space"):
        asyncio.run(log.append({"request_id": "lost"}))


def test_a_chain_reopened_after_an_unclean_stop_says_so_in_a_recovery_record_first(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path, records=2)
    crashed(path, range(3))
    reopened(path, 50)
    lines = lines_of(path)
    recovery = json.loads(lines[6])  # after 2 records, their seal, 3 unsealed records
    assert recovery == {
        "time": recovery["time"],
        "event": "recovery",
        "reason": "the previous run ended without its shutdown seal",
        "records": 3,
        "since": "seal",
        "last_time": "2026-12-01T10:00:02.000+00:00",
        "cut": None,
        "prev": ChainKey(CHAIN).line(lines[5]),
    }  # counts and times only: no citizen, no secret, no path
    assert json.loads(lines[7])["request_id"] == "50"  # then the run goes on
    assert json.loads(lines[8])["seal"]["records"] == 7  # the recovery is a record
    report = verify_files([path], CHAIN)
    assert (report.breaks, report.unsealed) == ([], 0)
    [found] = report.recoveries
    assert (found.line, found.records) == (7, 3)
    assert str(found) == (
        f"{path}: record 7: unclean stop: at {recovery['time']} the gateway found that "
        "the run before ended without its shutdown seal (its last whole line at "
        "2026-12-01T10:00:02.000+00:00): 3 record(s) after the last seal were left "
        "unsealed"
    )


def test_each_unclean_stop_counts_the_records_since_the_seal_or_stop_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    crashed(path, range(4))  # never sealed
    crashed(path, range(10, 12))  # restarted, then killed again
    reopened(path)
    counts = [(r["records"], r["since"]) for r in recoveries_in(path)]
    assert counts == [(4, "start"), (2, "recovery")]
    report = verify_files([path], CHAIN)
    assert report.breaks == []
    assert [(r.line, r.records) for r in report.recoveries] == [(5, 4), (8, 2)]


def test_a_chain_rotated_then_killed_counts_from_the_rotation_seal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(config(path, rotate_bytes=300))
    for n in range(5):
        log.write(stamped(n) | {"padding": "x" * 80})
    del log  # killed
    AuditLog(config(path, rotate_bytes=300)).close()
    [recovery] = recoveries_in(path)
    assert (recovery["since"], recovery["records"]) == ("seal", len(lines_of(path)) - 2)
    report = verify_files([*rotated_files(path), path], CHAIN)
    assert report.breaks == []
    assert len(report.recoveries) == 1


def test_a_cleanly_closed_chain_reopened_gets_no_recovery_record(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path, records=2)
    reopened(path, 3)
    reopened(path)
    assert recoveries_in(path) == []
    assert verify_files([path], CHAIN).recoveries == []
    crashed(path, range(5, 7))
    reopened(path)  # writes the recovery record, and seals it at shutdown
    reopened(path)
    reopened(path, 8)
    assert len(recoveries_in(path)) == 1
    assert [r.line for r in verify_files([path], CHAIN).recoveries] == [8]


def test_a_last_line_cut_short_by_a_crash_is_a_note_then_declared_by_the_recovery(
    tmp_path: Path,
) -> None:
    path = sealed_log(tmp_path, records=2)
    crashed(path, range(3))
    with path.open("ab") as file:
        file.write(CUT)
    report = verify_files([path], CHAIN)
    assert (report.breaks, report.cut_tail) == ([], True)
    assert report.note == (
        "3 records after the last seal (not sealed: the gateway is running or did not "
        f"stop cleanly); {CUT_NOTE}"
    )
    reopened(path, 10)
    lines = path.read_bytes().split(b"\n")
    assert lines[6] == CUT  # kept as evidence, on a line of its own
    recovery = json.loads(lines[7])
    assert recovery["records"] == 3
    assert recovery["prev"] == ChainKey(CHAIN).line(lines[5].decode())  # skips it
    mac = ChainKey(CHAIN).line(CUT.decode("utf-8", "surrogateescape"))
    assert recovery["cut"] == {"bytes": len(CUT), "mac": mac}
    report = verify_files([path], CHAIN)
    assert (report.breaks, report.unsealed, report.cut_tail) == ([], 0, False)
    [found] = report.recoveries
    assert found.line == 8
    assert str(found).endswith(
        f"; the line before was cut short by the crash ({len(CUT)} bytes): its record "
        "is lost"
    )
    reopened(path)  # the declared cut is no unclean stop of its own
    assert len(verify_files([path], CHAIN).recoveries) == 1


def test_a_crash_in_a_files_first_write_leaves_only_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    crashed(path, [])
    with path.open("ab") as file:
        file.write(CUT)
    reopened(path)
    [recovery] = recoveries_in(path)
    assert (recovery["records"], recovery["since"], recovery["prev"]) == (
        0,
        "start",
        GENESIS,
    )
    report = verify_files([path], CHAIN)
    assert report.breaks == []
    assert [r.line for r in report.recoveries] == [2]


def test_a_last_record_missing_only_its_newline_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    crashed(path, range(2))
    path.write_bytes(path.read_bytes().removesuffix(b"\n"))
    reopened(path, 5)
    assert [json.loads(line).get("request_id") for line in lines_of(path)] == [
        "0",
        "1",
        None,  # the recovery
        "5",
        None,  # the shutdown seal
    ]
    assert recoveries_in(path)[0]["cut"] is None
    assert verify_files([path], CHAIN).breaks == []


def recovered_with_a_cut(tmp_path: Path) -> Path:
    """Sealed, killed with 3 records and a line cut short, restarted, stopped cleanly."""
    path = sealed_log(tmp_path, records=2)
    crashed(path, range(3))
    with path.open("ab") as file:
        file.write(CUT)
    reopened(path, 10)
    return path


MAC_MISMATCH = (
    "previous-line MAC does not match: the line before was altered or removed, "
    "or the chain was written with another key"
)


def replaced(
    index: int, old: bytes, new: bytes
) -> Callable[[list[bytes]], list[bytes]]:
    return lambda lines: [
        line.replace(old, new) if n == index else line for n, line in enumerate(lines)
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (replaced(4, b'"1"', b'"9"'), ["record 6: " + MAC_MISMATCH]),
        (replaced(7, b'"records":3', b'"records":0'), ["record 9: " + MAC_MISMATCH]),
        (
            lambda lines: lines[:7] + lines[8:],
            [
                "record 7: not a JSON record",  # no longer declared: a break
                "record 7: " + MAC_MISMATCH,
                "record 8: " + MAC_MISMATCH,
                "record 10: the tail was removed: the file ends at line 9, its seal "
                "file says 10 lines",
            ],
        ),
        (
            replaced(6, CUT, CUT[:-3] + b"X"),
            [
                "record 7: not a JSON record",
                "record 7: " + MAC_MISMATCH,
                "record 8: " + MAC_MISMATCH,
                "record 10: the seal counts 7 records, the file has 8 before it",
            ],
        ),
    ],
    ids=["unsealed record", "recovery count", "recovery removed", "cut line"],
)
def test_tampering_is_still_seen_after_a_recovery_record(
    edit: Callable[[list[bytes]], list[bytes]], expected: list[str], tmp_path: Path
) -> None:
    path = recovered_with_a_cut(tmp_path)
    assert len(verify_files([path], CHAIN).recoveries) == 1
    path.write_bytes(b"\n".join(edit(path.read_bytes().split(b"\n"))))
    found = [str(b) for b in verify_files([path], CHAIN).breaks]
    assert found == [f"{path}: {problem}" for problem in expected]
