"""The audit file itself: chain across restarts and rotations, retention, verification."""

import json
import os
import time
from pathlib import Path

from citizen_graph.auth.audit import GENESIS, AuditConfig, AuditLog, verify


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_chain_starts_from_genesis_and_links_every_record(tmp_path: Path) -> None:
    log = AuditLog(AuditConfig(tmp_path / "audit.jsonl", "secret"))
    for n in range(3):
        log.write({"request_id": str(n)})
    lines = lines_of(tmp_path / "audit.jsonl")
    assert json.loads(lines[0])["prev"] == GENESIS
    assert verify(lines, first_prev=GENESIS) == []


def test_a_restarted_writer_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(AuditConfig(path, "secret")).write({"request_id": "before"})
    AuditLog(AuditConfig(path, "secret")).write({"request_id": "after"})
    assert verify(lines_of(path), first_prev=GENESIS) == []


def test_rotation_keeps_the_chain_and_purges_files_past_retention(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(AuditConfig(path, "secret", rotate_bytes=200, retention_days=30))
    for n in range(6):
        log.write({"request_id": str(n), "padding": "x" * 80})
    rotated = sorted(tmp_path.glob("audit.jsonl.*"))
    assert rotated
    chain = [line for f in [*rotated, path] for line in lines_of(f)]
    assert len(chain) == 6
    assert verify(chain, first_prev=GENESIS) == []
    old = rotated[0]
    past = time.time() - 31 * 86_400
    os.utime(old, (past, past))
    for n in range(4):
        log.write({"request_id": f"later-{n}", "padding": "x" * 80})
    assert not old.exists()
