"""The audit trail: one JSON line per request that touches a citizen or is refused, keyed-chained.

Each record says who (client, recipient SIRET, role, purpose) read what (`Type.field`
coordinates permitted and denied) about whom (keyed hashes of the citizen's keys, never the keys)
and through which upstream calls; a refused request gets a record too (who, what code, never the
query). Each line carries the HMAC of the previous line under the chain secret, and seals (a
line, plus the `<file>.seal` side file) close the file at rotation and shutdown, so an altered,
removed, truncated or re-hashed chain is seen by `citizen-graph audit verify`. Rotated files older
than the retention period are deleted (API Particulier: 36 months for agents' access traces).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from citizen_graph.auth.credentials import Caller, carries_identifier
from citizen_graph.calls import UpstreamCall
from citizen_graph.records import CitizenKey

GENESIS = "0" * 64
ROTATED_SUFFIX = re.compile(r"\.\d{8}T\d{12}Z")  # audit.jsonl.20261129T014012123456Z
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
UNSEALED_NOTE = "not sealed: the gateway is running or did not stop cleanly"
SEAL_FILE_MISSING = "the file was sealed but its seal file is missing: it was removed"


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


class SubjectHasher:
    """Keyed hashes of a citizen's keys: the file alone discloses no identifier."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("citizen-graph/audit/" + secret).encode()).digest()

    def fiscal_number(self, value: str) -> str:
        return self._mac("spi", value)

    def identity(self, value: Mapping[str, Any]) -> str:
        canonical = json.dumps(
            value, sort_keys=True, separators=(",", ":"), default=str
        )
        return self._mac("identity", canonical)

    def _mac(self, kind: str, value: str) -> str:
        return hmac.new(
            self._key, f"{kind}:{value}".encode(), hashlib.sha256
        ).hexdigest()


class ChainKey:
    """HMAC-SHA-256 under the chain secret: without it, an edited chain cannot be re-linked."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("citizen-graph/chain/" + secret).encode()).digest()

    def line(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def seal_file(self, lines: int, last: str) -> str:
        # Lines are JSON objects, so this message can never be mistaken for a line.
        return self.line(f"seal-file:{lines}:{last}")


@dataclass(frozen=True)
class SealFile:
    """The `<file>.seal` side file: how the active file ended when it was last sealed."""

    lines: int  # lines of the active file, seal line included
    last: str  # MAC of its last line (lines == 0: the MAC the file starts from)
    mac: str

    def is_signed(self, key: ChainKey) -> bool:
        return hmac.compare_digest(self.mac, key.seal_file(self.lines, self.last))


def seal_path(path: Path) -> Path:
    return path.with_name(path.name + ".seal")


def read_seal_file(path: Path) -> SealFile | None:
    """The side file, or None if there is none; unreadable content reads as unsigned."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return SealFile(int(raw["lines"]), str(raw["last"]), str(raw["mac"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return SealFile(0, "", "")


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of `path`, oldest first (not its seal file, nor other workers')."""
    return sorted(
        candidate
        for candidate in path.parent.glob(path.name + ".*")
        if ROTATED_SUFFIX.fullmatch(candidate.name.removeprefix(path.name))
    )


@dataclass
class _Tail:
    """Where the active file ends: what the next line links to and the next seal counts."""

    previous: str = GENESIS  # MAC of the last line written (the next line's `prev`)
    start: str = GENESIS  # the `prev` of the file's first line
    last_record: str = GENESIS  # MAC of the file's last record (not seal); else `start`
    lines: int = 0
    records: int = 0
    unsealed: int = 0  # records after the last seal
    rotation_sealed: bool = False  # the last line is a rotation seal


class AuditLog:
    """Append-only, keyed-chained, sealed, thread- and task-safe writer of audit records."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.hasher = SubjectHasher(config.secret)
        self._chain = ChainKey(config.chain_secret)
        self._lock = threading.Lock()
        config.path.parent.mkdir(parents=True, exist_ok=True)
        self._tail = self._resume()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; raises OSError if it cannot be written (fail closed)."""
        with self._lock:
            self._rotate_if_needed()
            self._append(record, is_record=True)

    def close(self) -> None:
        """Seal the records written since the last seal (at shutdown)."""
        with self._lock:
            if self._tail.unsealed:
                self._seal("shutdown")

    def _append(self, entry: dict[str, Any], *, is_record: bool) -> None:
        line = json.dumps(
            entry | {"prev": self._tail.previous},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        fd = os.open(self.config.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())
            if self.config.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        tail = self._tail
        tail.previous = self._chain.line(line)
        tail.lines += 1
        if is_record:
            tail.records += 1
            tail.last_record = tail.previous
            tail.unsealed += 1
        else:
            tail.unsealed = 0

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
        self._tail = _Tail(previous=end, start=end, last_record=end)
        self._write_seal_file(0, self._tail.previous)
        self._purge()

    def _purge(self) -> None:
        limit = time.time() - self.config.retention_days * 86_400
        for old in rotated_files(self.config.path):
            if old.stat().st_mtime < limit:
                old.unlink()

    def _resume(self) -> _Tail:
        """Continue the chain after a restart, refusing a file that no longer fits its seal."""
        path = self.config.path
        sealed = read_seal_file(seal_path(path))
        tail, mark = _scan(path, self._chain, sealed.lines if sealed else 0)
        if sealed is not None and not _fits(tail, mark, sealed, self._chain):
            raise AuditTampered(
                f"{path} does not match {seal_path(path).name}: run "
                "`citizen-graph audit verify` and move the files aside to start a new chain"
            )
        if tail.lines == 0:
            start = sealed.last if sealed else _rotated_end(path, self._chain)
            return _Tail(previous=start, start=start, last_record=start)
        if tail.rotation_sealed:  # stopped between the rotation seal and the rename
            self._tail = tail
            self._finish_rotation()
            return self._tail
        return tail


def _fits(tail: _Tail, mark: str | None, sealed: SealFile, key: ChainKey) -> bool:
    if not sealed.is_signed(key) or tail.lines < sealed.lines:
        return False
    if sealed.lines:
        return mark == sealed.last
    return tail.lines == 0 or tail.start == sealed.last


def _scan(path: Path, key: ChainKey, mark: int) -> tuple[_Tail, str | None]:
    """The tail of an existing file, and the MAC of its line number `mark`."""
    tail, marked = _Tail(), None
    if not path.exists():
        return tail, None
    with path.open(encoding="utf-8") as file:
        for raw in file:
            text = raw.rstrip("\n")
            if not text.strip():
                continue
            mac = key.line(text)
            if tail.lines == 0:
                tail.start = tail.last_record = _prev_of(text)
            tail.lines += 1
            tail.previous = mac
            is_seal = text.startswith('{"seal":')  # how `_seal` writes them
            tail.rotation_sealed = is_seal and '"reason":"rotation"' in text
            if is_seal:
                tail.unsealed = 0
            else:
                tail.records += 1
                tail.unsealed += 1
                tail.last_record = mac
            if tail.lines == mark:
                marked = mac
    return tail, marked


def _prev_of(text: str) -> str:
    return str((_json_object(text) or {}).get("prev", GENESIS))


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


def audit_record(
    hasher: SubjectHasher,
    *,
    request_id: str,
    caller: Caller,
    operation: str | None,
    subjects: Iterable[CitizenKey],
    allowed: Iterable[str],
    denied: Iterable[str],
    calls: Iterable[UpstreamCall],
    error_codes: Iterable[str | None],
    duration_ms: float,
) -> dict[str, Any]:
    """One access record: who, why, about whom (hashed), which fields, through which calls."""
    codes = [code or "INTERNAL" for code in error_codes]
    allowed = sorted(allowed)
    return {
        "time": now_iso(),
        "request_id": request_id,
        "client_id": caller.client_id,
        "recipient": caller.recipient,
        "role": caller.role,
        "purpose": caller.purpose,
        "operation": _operation(operation),
        "citizens": [_subject(hasher, key) for key in dict.fromkeys(subjects)],
        # Selected and readable: permitted, not necessarily returned (an upstream may fail).
        "fields_permitted": allowed,
        "fields_denied": sorted(denied),
        "upstream_calls": [
            {
                "source": call.source,
                "operation": call.operation,
                "status": call.status,
                "duration_ms": call.duration_ms,
                "cached": call.cached,
                "upstream_request_id": call.upstream_request_id,
            }
            for call in calls
        ],
        "errors": sorted(set(codes)),
        "outcome": _outcome(codes, returned=bool(allowed)),
        "duration_ms": duration_ms,
    }


def refusal_record(
    *,
    request_id: str,
    client_id: str | None,
    recipient: str | None,
    role: str | None,
    purpose: str | None,
    operation: str | None,
    code: str,
    http_status: int,
    subjects: Iterable[CitizenKey] = (),
    hasher: SubjectHasher,
    duration_ms: float,
    purpose_given: bool = False,
) -> dict[str, Any]:
    """One record for a request refused before execution: who, and why; never what it asked.

    `purpose`: only a purpose that was accepted (None for a refused one; `purpose_given`
    then says that one was sent). No query text, no variables, no key.
    """
    return {
        "time": now_iso(),
        "request_id": request_id,
        "client_id": client_id,
        "recipient": recipient,
        "role": role,
        "purpose": purpose,
        "purpose_given": purpose_given or purpose is not None,
        "operation": _operation(operation),
        "citizens": [_subject(hasher, key) for key in dict.fromkeys(subjects)],
        "fields_permitted": [],
        "fields_denied": [],
        "upstream_calls": [],
        "errors": [code],
        "outcome": "refused",
        "refusal": {"code": code, "status": http_status},
        "duration_ms": duration_ms,
    }


def _operation(name: str | None) -> str | None:
    """The operation's name if it is one (a refused request's name is anything it sent)."""
    if name is None or not OPERATION_NAME.fullmatch(name) or carries_identifier(name):
        return None
    return name


def _subject(hasher: SubjectHasher, key: CitizenKey) -> dict[str, str]:
    subject = {}
    if key.fiscal_number is not None:
        subject["fiscal_number"] = hasher.fiscal_number(key.fiscal_number)
    if key.identity is not None:
        subject["identity"] = hasher.identity(asdict(key.identity))
    return subject


def _outcome(codes: list[str], returned: bool) -> str:
    if not codes:
        return "ok"
    if not returned and all(code == "FORBIDDEN" for code in codes):
        return "denied"
    return "partial"


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ChainBreak:
    line: int | None  # None: the break is in the seal file
    reason: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        line = f"record {self.line}: " if self.line is not None else ""
        return f"{where}{line}{self.reason}"


@dataclass(frozen=True)
class ChainReport:
    breaks: list[ChainBreak]
    unsealed: int  # records after the last seal: informational, not a break

    @property
    def note(self) -> str | None:
        if not self.unsealed:
            return None
        return f"{self.unsealed} records after the last seal ({UNSEALED_NOTE})"


@dataclass
class _Verifier:
    """One pass over the lines of one chain (several files, oldest first)."""

    key: ChainKey
    expected: str | None  # the next `prev`; None: any (the first line, partial)
    mark: int  # the line number, in the active file, that the seal file names
    breaks: list[ChainBreak] = field(default_factory=list)
    number: int = 0  # line number across all files
    part: _Tail = field(default_factory=_Tail)  # the current file, since its start
    marked: str | None = None  # MAC of the line at `mark` in the current file
    sealed_before: bool = False  # a seal line was seen
    previous_text: str = ""

    def feed(self, text: str) -> None:
        self.number += 1
        mac = self.key.line(text)
        record = _json_object(text)
        if record is None:
            self._break("not a JSON record")
            record = {}
        self._link(record.get("prev"))
        seal = record.get("seal")
        if isinstance(seal, dict):
            self._check_seal(seal)
            self.part.unsealed = 0
        else:
            self.part.records += 1
            self.part.unsealed += 1
            self.part.last_record = mac
        self.part.lines += 1
        if self.part.lines == self.mark:
            self.marked = mac
        self.expected, self.previous_text = mac, text
        if isinstance(seal, dict) and seal.get("reason") == "rotation":
            self.part, self.marked = _Tail(start=mac, last_record=mac), None

    def _link(self, prev: Any) -> None:
        if self.number == 1:
            self.part.start = self.part.last_record = str(prev)
        if self.expected is None or prev == self.expected:
            return
        if self.number == 1:
            self._break(
                "the chain does not start from GENESIS: its oldest records were removed "
                "(--partial if retention purged the oldest files)"
            )
        elif prev == hashlib.sha256(self.previous_text.encode()).hexdigest():
            self._break(
                "linked by plain SHA-256, not by the chain key: the chain was re-hashed"
            )
        else:
            self._break(
                "previous-line MAC does not match: the line before was altered or "
                "removed, or the chain was written with another key"
            )

    def _check_seal(self, seal: dict[str, Any]) -> None:
        self.sealed_before = True
        if seal.get("records") != self.part.records:
            self._break(
                f"the seal counts {seal.get('records')} records, the file has "
                f"{self.part.records} before it"
            )
        if seal.get("last") != self.part.last_record:
            self._break("the seal's last MAC is not the last record's")
        if seal.get("reason") not in ("rotation", "shutdown"):
            self._break("the seal gives no reason (rotation or shutdown)")

    def _break(self, reason: str) -> None:
        self.breaks.append(ChainBreak(self.number, reason))

    def check_seal_file(self, seal: SealFile | None) -> ChainBreak | None:
        """The active (last) file's end against its seal file."""
        before = self.number - self.part.lines  # lines of the files before it
        if seal is None:
            if self.part.lines and self.sealed_before:
                return ChainBreak(None, SEAL_FILE_MISSING)
            return None
        if not seal.is_signed(self.key):
            return ChainBreak(
                None, "the seal file is not signed by the chain key: forged"
            )
        if self.part.lines < seal.lines:
            return ChainBreak(
                before + self.part.lines + 1,
                f"the tail was removed: the file ends at line {self.part.lines}, "
                f"its seal file says {seal.lines} lines",
            )
        if seal.lines and self.marked != seal.last:
            return ChainBreak(
                before + seal.lines,
                "does not match the seal file: the tail was rewritten",
            )
        if not seal.lines and self.part.lines and self.part.start != seal.last:
            return ChainBreak(
                before + 1, "does not continue from the sealed end of the previous file"
            )
        return None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def verify(
    lines: Iterable[str],
    key: str,
    *,
    first_prev: str | None = GENESIS,
    seal: SealFile | None = None,
) -> ChainReport:
    """Check each line's `prev` against the keyed MAC of the line before, the seal lines, and
    the active (last) file's end against its seal file.

    The first record must start the chain (GENESIS), so removing the oldest records is seen
    too; `first_prev=None` accepts any start (the oldest files were purged by retention).
    """
    verifier = _Verifier(ChainKey(key), first_prev, seal.lines if seal else 0)
    for line in lines:
        if line.strip():
            verifier.feed(line.rstrip("\n"))
    end = verifier.check_seal_file(seal)
    breaks = [*verifier.breaks, end] if end else verifier.breaks
    return ChainReport(breaks, verifier.part.unsealed)


def verify_files(
    paths: Sequence[Path], key: str, *, partial: bool = False
) -> ChainReport:
    """`verify` over files read oldest first, the last one's seal file included; each break
    names its file and its line there. Raises OSError if a file cannot be read."""
    texts = [
        [line for line in p.read_text("utf-8").splitlines() if line.strip()]
        for p in paths
    ]
    report = verify(
        (line for text in texts for line in text),
        key,
        first_prev=None if partial else GENESIS,
        seal=read_seal_file(seal_path(paths[-1])),
    )
    return replace(report, breaks=[_located(b, paths, texts) for b in report.breaks])


def _located(
    found: ChainBreak, paths: Sequence[Path], texts: list[list[str]]
) -> ChainBreak:
    if found.line is None:
        return replace(found, file=str(seal_path(paths[-1])))
    line = found.line
    for path, text in zip(paths[:-1], texts[:-1], strict=True):
        if line <= len(text):
            return replace(found, line=line, file=str(path))
        line -= len(text)
    return replace(found, line=line, file=str(paths[-1]))


def find(lines: Iterable[str], subject_hash: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        record = json.loads(line)
        for subject in record.get("citizens", []):
            if subject_hash in subject.values():
                yield record
                break
