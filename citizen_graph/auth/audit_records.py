"""The audit trail's records: who read what about whom (hashed), who was refused, and the
writer's own records of a chain restarted or recovered after an unclean stop.

"Who" is the client, its SIRET and role and, for an agent's token, the agent (its `sub`).

Citizens appear only as keyed hashes of their keys; a refused request's record never holds the
query, its variables, a refused purpose or a key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from citizen_graph.auth.audit_chain import RECOVERY_EVENT, RESTART_EVENT, json_object
from citizen_graph.auth.clients import Caller
from citizen_graph.identifiers import carries_identifier
from citizen_graph.records import CitizenKey
from citizen_graph.request_scope import UpstreamCall

OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


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
        "agent": caller.agent,
        "recipient": caller.recipient,
        "role": caller.role,
        "purpose": caller.purpose,
        "habilitation": caller.access.habilitation or None,
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
                "habilitation": call.habilitation,
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
    habilitation: str | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    """One record for a request refused before execution: who, and why; never what it asked.

    `purpose`: only a purpose that was accepted (None for a refused one; `purpose_given`
    then says that one was sent). No query text, no variables, no key.
    """
    return {
        "time": now_iso(),
        "request_id": request_id,
        "client_id": client_id,
        "agent": agent,
        "recipient": recipient,
        "role": role,
        "purpose": purpose,
        "purpose_given": purpose_given or purpose is not None,
        "habilitation": habilitation,
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


def restart_record(aside: Path | None) -> dict[str, Any]:
    """The first line of a chain that could not continue its file: `verify` reports it."""
    return {
        "time": now_iso(),
        "event": RESTART_EVENT,
        "reason": "the active file's seal file was missing at start-up",
        "moved_aside": aside.name if aside else None,
    }


def recovery_record(
    records: int, *, since: str, last_line: str | None, cut: dict[str, Any] | None
) -> dict[str, Any]:
    """The line a writer adds first to a chain whose last line is no seal: the run before
    stopped uncleanly, leaving `records` records unsealed (counted `since` the last "seal",
    the last "recovery" or the chain's "start"), and maybe a last line `cut` short. Counts,
    times and MACs only: no citizen, no secret, no path."""
    return {
        "time": now_iso(),
        "event": RECOVERY_EVENT,
        "reason": "the previous run ended without its shutdown seal",
        "records": records,
        "since": since,
        "last_time": _time_of(last_line),
        "cut": cut,
    }


def _time_of(line: str | None) -> str | None:
    """When a line was written (a record's time, or its seal's), if it says a time."""
    entry = (json_object(line) if line else None) or {}
    seal = entry.get("seal")
    when = seal.get("time") if isinstance(seal, dict) else entry.get("time")
    try:
        datetime.datetime.fromisoformat(str(when))
    except ValueError:
        return None
    return str(when)


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


def find(
    lines: Iterable[str], subject_hash: str | None, agent: str | None = None
) -> Iterator[dict[str, Any]]:
    """The records about the citizen of `subject_hash` and/or made by `agent` (its `sub`)."""
    for line in lines:
        record = json.loads(line)
        if _matches(record, subject_hash, agent):
            yield record


def _matches(record: Any, subject_hash: str | None, agent: str | None) -> bool:
    if agent is not None and record.get("agent") != agent:
        return False
    if subject_hash is None:
        return agent is not None
    return any(
        subject_hash in subject.values() for subject in record.get("citizens", [])
    )
