"""The audit trail: one JSON line per request that touches a citizen or is refused, keyed-chained.

Each record says who (client, recipient SIRET, role, purpose) read what (`Type.field`
coordinates permitted and denied) about whom (keyed hashes of the citizen's keys, never the keys)
and through which upstream calls; a refused request gets a record too (who, what code, never the
query). Each line carries the HMAC of the previous line under the chain secret, and seals (a
line, plus the `<file>.seal` side file) close the file at rotation and shutdown, so an altered,
removed, truncated or re-hashed chain is seen by `citizen-graph audit verify`; a writer that
finds its chain ending without a seal (the run before was killed) says so in a chained recovery
record first. Rotated files older than the retention period are deleted (API Particulier: 36
months for agents' access traces).

This module is the writer; the records are built in `audit_records.py`, and the chain, its
seals and their verification live in `audit_chain.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import fcntl
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from citizen_graph.auth.audit_chain import (
    CUT_NOTE,
    GENESIS,
    MOVED_ASIDE,
    RECOVERY_MARK,
    SEAL_FILE_MISSING,
    ChainBreak,
    ChainKey,
    ChainReport,
    Recovery,
    SealFile,
    Tail,
    chain_lines,
    chains,
    is_moved_aside,
    is_side_file,
    json_object,
    read_seal_file,
    rotated_files,
    seal_path,
    verify,
    verify_files,
)
from citizen_graph.auth.audit_records import (
    SubjectHasher,
    audit_record,
    find,
    now_iso,
    recovery_record,
    refusal_record,
    restart_record,
)

__all__ = [
    "CUT_NOTE",
    "GENESIS",
    "RECOVERY_MARK",
    "SEAL_FILE_MISSING",
    "AuditConfig",
    "AuditInUse",
    "AuditLog",
    "AuditTampered",
    "ChainBreak",
    "ChainKey",
    "ChainReport",
    "Recovery",
    "SubjectHasher",
    "audit_record",
    "chain_lines",
    "chains",
    "find",
    "is_moved_aside",
    "is_side_file",
    "refusal_record",
    "rotated_files",
    "seal_path",
    "verify",
    "verify_files",
]

logger = logging.getLogger("citizen_graph.audit")


@dataclass(frozen=True)
class AuditConfig:
    path: Path
    secret: str  # keys the citizens' hashes
    chain_secret: str  # keys the chain and the seals; distinct from `secret`
    rotate_bytes: int = 50_000_000
    retention_days: int = 1096  # 36 months
    fsync: bool = False


class AuditTampered(RuntimeError):
    """The active file no longer matches its seal: the writer will not extend it."""


class AuditInUse(RuntimeError):
    """Another process writes this audit file: two writers would break its chain."""


# A record waiting for the writer thread, and what it answers: the future, its error.
_Pending = tuple[dict[str, Any], asyncio.AbstractEventLoop, "asyncio.Future[None]"]
_Settled = tuple["asyncio.Future[None]", OSError | None]


def _settle(settled: list[_Settled]) -> None:
    for written, error in settled:
        if written.done():  # its request went away
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)


class AuditLog:
    """Append-only, keyed-chained, sealed, thread- and task-safe writer of audit records."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.hasher = SubjectHasher(config.secret)
        self._chain = ChainKey(config.chain_secret)
        self._lock = threading.Lock()
        self._pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        config.path.parent.mkdir(parents=True, exist_ok=True)
        self._owner = _own(config.path)  # before reading the tail another could extend
        try:
            self._tail = self._resume()
        except BaseException:
            self._owner.close()
            raise

    def __del__(self) -> None:
        # A writer dropped without close() lets go of the file, as a process's end does.
        owner = getattr(self, "_owner", None)
        if owner is not None:
            owner.close()

    async def append(self, record: dict[str, Any]) -> None:
        """`write`, off the event loop (a slow disk or `fsync` never stalls other requests),
        on the log's one writer thread; awaited before the response, so still failing
        closed. A thread of its own rather than `asyncio.to_thread`: the executor's hop
        cost 0.12 ms of CPU per record against 0.013 ms for the write itself, and the
        writer answers every record it drained in one wake-up of the loop."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._writer().put((record, loop, written))
        await written

    def _writer(self) -> queue.SimpleQueue[_Pending | None]:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return self._pending  # the usual case: no lock on the hot path
        # Not `_lock`, which a write in progress holds: the event loop never waits on it.
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name="audit-writer", daemon=True
                )
                self._thread.start()
        return self._pending

    def _drain(self) -> None:
        """The writer thread: every record waiting is written, then their futures are
        settled together, one callback per event loop."""
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._pending.put(None)  # stop once this batch is answered
                    break
                batch.append(item)
            outcomes: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
            for record, loop, written in batch:
                error: OSError | None = None
                try:
                    self.write(record)
                except OSError as failure:
                    error = failure
                outcomes.setdefault(loop, []).append((written, error))
            for loop, settled in outcomes.items():
                with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                    loop.call_soon_threadsafe(_settle, settled)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; raises OSError if it cannot be written (fail closed)."""
        with self._lock:
            self._rotate_if_needed()
            self._append(record, is_record=True)

    def close(self) -> None:
        """Seal the records written since the last seal (at shutdown), and let go."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._pending.put(None)
            thread.join()
        with self._lock:
            if self._tail.unsealed:
                self._seal("shutdown")
            self._owner.close()  # releases the lock (as a process's end does)

    def _append(self, entry: dict[str, Any], *, is_record: bool) -> None:
        line = json.dumps(
            entry | {"prev": self._tail.previous},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        self._write_bytes((line + "\n").encode())
        tail = self._tail
        tail.previous = self._chain.line(line)
        tail.lines += 1
        if is_record:
            tail.records += 1
            tail.last_record = tail.previous
            tail.unsealed += 1
        else:
            tail.unsealed = 0

    def _write_bytes(self, data: bytes) -> None:
        fd = os.open(self.config.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
            if self.config.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _seal(self, reason: str) -> None:
        tail = self._tail
        seal = {
            "records": tail.records,
            "last": tail.last_record,
            "reason": reason,
            "time": now_iso(),
        }
        self._append({"seal": seal}, is_record=False)
        self._write_seal_file(tail.lines, tail.previous)

    def _write_seal_file(self, lines: int, last: str) -> None:
        path = seal_path(self.config.path)
        text = json.dumps(
            {"lines": lines, "last": last, "mac": self._chain.seal_file(lines, last)}
        )
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            if self.config.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)

    def _rotate_if_needed(self) -> None:
        try:
            size = self.config.path.stat().st_size
        except FileNotFoundError:
            return
        if size >= self.config.rotate_bytes:
            self._seal("rotation")
            self._finish_rotation()

    def _finish_rotation(self) -> None:
        path = self.config.path
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path.rename(path.with_name(f"{path.name}.{stamp}"))
        # The chain continues across files: the new file starts from the seal's MAC.
        end = self._tail.previous
        self._tail = Tail(previous=end, start=end, last_record=end)
        self._write_seal_file(0, self._tail.previous)
        self._purge()

    def _quarantine(self, path: Path) -> Path:
        aside = _quarantine_name(path)
        path.rename(aside)
        logger.warning(
            "audit file without its seal file moved aside; run `citizen-graph audit "
            "verify` on it",
            extra={"file": aside.name},
        )
        return aside

    def _purge(self) -> None:
        limit = time.time() - self.config.retention_days * 86_400
        for old in rotated_files(self.config.path):
            if old.stat().st_mtime < limit:
                old.unlink()

    def _resume(self) -> Tail:
        """Continue the chain after a restart, refusing a file that no longer fits its seal,
        after a recovery record if the run before stopped without sealing its records."""
        path = self.config.path
        sealed = read_seal_file(seal_path(path))
        tail, mark, end = _scan(path, self._chain, sealed.lines if sealed else 0)
        if sealed is not None and not _fits(tail, mark, sealed, self._chain):
            raise AuditTampered(
                f"{path} does not match {seal_path(path).name}: run "
                "`citizen-graph audit verify` and move the files aside to start a new chain"
            )
        # Every file gets its seal file when it is opened: without one, a file was tampered
        # with (or written by an older version), or an active file was removed with it.
        if sealed is None:
            return self._restart(found=tail.lines > 0 or end.cut is not None)
        if tail.lines == 0:  # empty, or one line cut short: it starts where sealed
            tail = Tail(
                previous=sealed.last, start=sealed.last, last_record=sealed.last
            )
        self._tail = tail
        if end.open:
            self._end_line(end)
        if tail.unsealed or end.cut is not None:
            self._recover(end)
        elif tail.rotation_sealed:  # stopped between the rotation seal and the rename
            self._finish_rotation()
        return self._tail

    def _restart(self, *, found: bool) -> Tail:
        """No seal file: a file found is moved aside, never extended, and when anything was
        lost, the new file says so in the chain itself, where no one can remove it unseen."""
        path = self.config.path
        lost = found or bool(rotated_files(path))
        aside = self._quarantine(path) if found else None
        start = _rotated_end(path, self._chain)
        self._tail = Tail(previous=start, start=start, last_record=start)
        self._write_seal_file(0, start)
        if lost:
            self._append(restart_record(aside), is_record=True)
        return self._tail

    def _end_line(self, end: _End) -> None:
        """End the last line, which a crash left without its newline, so that the next one
        starts a line of its own."""
        self._write_bytes(b"\n")
        if end.cut is not None:
            self._tail.lines += 1  # a line of the file, though no link of the chain

    def _recover(self, end: _End) -> None:
        """The chain's last line is no seal: the run before was killed (or its host lost)."""
        since = end.since
        if since == "start" and self._tail.start != GENESIS:
            since = "seal"  # the file starts after the rotation seal of the one before
        cut = None
        if end.cut is not None:
            size = len(end.cut.encode("utf-8", "surrogateescape"))
            cut = {"bytes": size, "mac": self._chain.line(end.cut)}
        entry = recovery_record(end.records, since=since, last_line=end.last, cut=cut)
        self._append(entry, is_record=True)
        logger.warning(
            "the audit chain's last run stopped without its shutdown seal: recovery "
            "record written; run `citizen-graph audit verify`",
            extra={"file": self.config.path.name, "unsealed_records": end.records},
        )


@dataclass
class _End:
    """How an existing file ends, for the recovery record of a run that did not stop cleanly."""

    records: int = 0  # records after the last seal or recovery record
    since: str = "start"  # what they follow: a "seal", a "recovery", the file's "start"
    last: str | None = None  # the last whole line
    cut: str | None = None  # the last line, cut short by a crash mid-write
    open: bool = False  # the file does not end with a newline


def _quarantine_name(path: Path) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return path.with_name(f"{path.name}{MOVED_ASIDE}{stamp}")


def _fits(tail: Tail, mark: str | None, sealed: SealFile, key: ChainKey) -> bool:
    if not sealed.is_signed(key) or tail.lines < sealed.lines:
        return False
    if sealed.lines:
        return mark == sealed.last
    return tail.lines == 0 or tail.start == sealed.last


def _scan(path: Path, key: ChainKey, mark: int) -> tuple[Tail, str | None, _End]:
    """The tail of an existing file, the MAC of its line number `mark`, and how it ends."""
    tail, marked, end = Tail(), None, _End()
    if not path.exists():
        return tail, None, end
    with path.open("rb") as file:
        for line in chain_lines(file, key):
            end.open = line.open
            if line.cut and line.open:
                end.cut = line.text  # counted once its newline is written
                break
            tail.lines += 1
            mac = key.line(line.text)
            if not line.cut:  # a cut line declared by a recovery record: no link
                _count(tail, end, line.text, mac)
            if tail.lines == mark:
                marked = mac
    return tail, marked, end


def _count(tail: Tail, end: _End, text: str, mac: str) -> None:
    """One whole line of an existing file, into its tail and how it ends."""
    if end.last is None:
        tail.start = tail.last_record = _prev_of(text)
    end.last, tail.previous = text, mac
    is_seal = text.startswith('{"seal":')  # how `_seal` writes them
    tail.rotation_sealed = is_seal and '"reason":"rotation"' in text
    if is_seal:
        tail.unsealed, end.records, end.since = 0, 0, "seal"
        return
    tail.records += 1
    tail.unsealed += 1
    tail.last_record = mac
    if RECOVERY_MARK in text:
        end.records, end.since = 0, "recovery"
    else:
        end.records += 1


def _prev_of(text: str) -> str:
    return str((json_object(text) or {}).get("prev", GENESIS))


def _rotated_end(path: Path, key: ChainKey) -> str:
    """The MAC of the newest rotated file's last line: where a new file starts."""
    rotated = rotated_files(path)
    if not rotated:
        return GENESIS
    last = None
    with rotated[-1].open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                last = line.rstrip("\n")
    return key.line(last) if last else GENESIS


def _own(path: Path) -> IO[bytes]:
    """An exclusive lock on `<file>.lock`, held while this writer lives: a second gateway
    process given the same file (the same working directory, a copied configuration)
    refuses to start instead of interleaving lines that break the chain for good."""
    owner = path.with_name(path.name + ".lock").open("ab")
    try:
        fcntl.flock(owner.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        raise AuditInUse(
            f"the audit file {path.name} is written by another gateway process: give "
            "each process its own audit.file (with --workers N each worker has its own)"
        ) from None
    return owner
