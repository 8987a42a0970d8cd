"""The audit trail: one JSON line per request that touches a citizen, hash-chained.

Each record says who (client, recipient SIRET, role, purpose) read what (`Type.field`
coordinates returned and denied) about whom (keyed hashes of the citizen's keys, never the keys)
and through which upstream calls. Each record carries the SHA-256 of the previous line, so a
removed or altered line breaks the chain (`citizen-graph audit verify`). Files rotate by size;
rotated files older than the retention period are deleted (API Particulier: 36 months for
agents' access traces).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from citizen_graph.auth.credentials import Caller
from citizen_graph.calls import UpstreamCall
from citizen_graph.records import CitizenKey

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditConfig:
    path: Path
    secret: str
    rotate_bytes: int = 50_000_000
    retention_days: int = 1096  # 36 months
    fsync: bool = False


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


class AuditLog:
    """Append-only, chained, thread- and task-safe writer of audit records."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.hasher = SubjectHasher(config.secret)
        self._lock = threading.Lock()
        config.path.parent.mkdir(parents=True, exist_ok=True)
        self._previous = last_hash(config.path)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; raises OSError if it cannot be written (fail closed)."""
        with self._lock:
            self._rotate_if_needed()
            line = json.dumps(
                record | {"prev": self._previous},
                separators=(",", ":"),
                ensure_ascii=False,
            )
            data = (line + "\n").encode()
            fd = os.open(
                self.config.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640
            )
            try:
                os.write(fd, data)
                if self.config.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._previous = hashlib.sha256(line.encode()).hexdigest()

    def _rotate_if_needed(self) -> None:
        path = self.config.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size < self.config.rotate_bytes:
            return
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path.rename(path.with_name(f"{path.name}.{stamp}"))
        self._purge()
        # The chain continues across files: the new file starts from the last hash.

    def _purge(self) -> None:
        limit = time.time() - self.config.retention_days * 86_400
        for old in self.config.path.parent.glob(self.config.path.name + ".*"):
            if old.stat().st_mtime < limit:
                old.unlink()


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
        "operation": operation,
        "citizens": [_subject(hasher, key) for key in dict.fromkeys(subjects)],
        "fields_returned": allowed,
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


def last_hash(path: Path) -> str:
    """The hash of the file's last line, to continue the chain after a restart."""
    if not path.exists():
        rotated = sorted(path.parent.glob(path.name + ".*"))
        if not rotated:
            return GENESIS
        path = rotated[-1]
    last = None
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                last = line.rstrip(b"\n")
    return hashlib.sha256(last).hexdigest() if last else GENESIS


@dataclass(frozen=True)
class ChainBreak:
    line: int
    reason: str


def verify(lines: Iterable[str], first_prev: str | None = GENESIS) -> list[ChainBreak]:
    """Check each record's `prev` against the hash of the line before it.

    The first record must start the chain (GENESIS), so removing the oldest records is seen
    too; `first_prev=None` accepts any start (the oldest files were purged by retention).
    """
    breaks = []
    previous = first_prev
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\n")
        try:
            record = json.loads(text)
        except ValueError:
            breaks.append(ChainBreak(number, "not a JSON record"))
            previous = hashlib.sha256(text.encode()).hexdigest()
            continue
        if previous is not None and record.get("prev") != previous:
            breaks.append(ChainBreak(number, "previous-record hash does not match"))
        previous = hashlib.sha256(text.encode()).hexdigest()
    return breaks


def find(lines: Iterable[str], subject_hash: str) -> Iterator[dict[str, Any]]:
    for line in lines:
        record = json.loads(line)
        for subject in record.get("citizens", []):
            if subject_hash in subject.values():
                yield record
                break
