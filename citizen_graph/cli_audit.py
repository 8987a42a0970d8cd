"""`citizen-graph audit verify` and `audit find`: every file of a deployment at once (files,
folders, globs), one hash chain per process, its unclean stops named, records in time order."""

from __future__ import annotations

import argparse
import datetime
import glob
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from citizen_graph.app import SANDBOX_AUDIT_SECRET, SANDBOX_CHAIN_SECRET
from citizen_graph.auth.audit import (
    ChainReport,
    SubjectHasher,
    chain_lines,
    chains,
    find,
    is_moved_aside,
    is_side_file,
    verify_files,
)
from citizen_graph.cli_common import fail as _fail
from citizen_graph.cli_common import settings_for as _settings
from citizen_graph.settings import Settings, SettingsError

MAX_BREAKS_SHOWN = 20  # per chain: one written with another key breaks at every line

AUDIT_PATHS = (
    "audit files: each a file, a folder or a glob pattern; every worker's and replica's "
    "file, with its rotated files, is a chain of its own"
)


def audit_verify(args: argparse.Namespace) -> None:
    key = _chain_secret(_settings(args.config))
    found = _audit_chains(args.files)
    reports = [_verify_chain(chain, key, args.partial) for chain in found]
    broken = sum(bool(report.breaks) for report in reports)
    stops = _unclean_stops(sum(len(report.recoveries) for report in reports))
    if broken:
        _fail(f"{broken} of {len(found)} chain(s) broken{stops}")
    # A crash is no tampering, but "intact" alone would hide that records may be lost.
    print(f"citizen-graph: {len(found)} chain(s) intact{stops}")


def _verify_chain(chain: list[Path], key: str, partial: bool) -> ChainReport:
    """One chain's verdict line, its problems and its unclean stops."""
    try:
        report = verify_files(chain, key, partial=partial)
    except (OSError, UnicodeDecodeError) as error:
        _fail(_unreadable(error, chain))
    name = str(chain[-1]) + (f" (+{len(chain) - 1} rotated)" if len(chain) > 1 else "")
    verdict = f"broken, {len(report.breaks)} problem(s)" if report.breaks else "intact"
    print(
        f"citizen-graph: {name}: chain {verdict}{_unclean_stops(len(report.recoveries))}"
    )
    for problem in report.breaks[:MAX_BREAKS_SHOWN]:
        print(f"  {problem}")
    if len(report.breaks) > MAX_BREAKS_SHOWN:
        print(f"  ... and {len(report.breaks) - MAX_BREAKS_SHOWN} more")
    for recovery in report.recoveries:
        print(f"  {recovery}")
    if report.note:
        print(f"citizen-graph: note: {name}: {report.note}")
    return report


def _unclean_stops(count: int) -> str:
    return f", {count} unclean stop{'s' if count > 1 else ''}" if count else ""


def audit_find(args: argparse.Namespace) -> None:
    if args.fiscal_number is None and args.agent is None:
        _fail("audit find needs --fiscal-number, --agent or both")
    secret = str(_settings(args.config).audit.secret) or SANDBOX_AUDIT_SECRET
    subject = None
    if args.fiscal_number is not None:
        subject = SubjectHasher(secret).fiscal_number(args.fiscal_number)
    found = [
        (record, path)
        for chain in _audit_chains(args.files)
        for path in chain
        for record in _records_about(path, subject, args.agent)
    ]
    for record, path in sorted(found, key=lambda item: _time_of(item[0])):
        print(f"{path}: {_described(record)}")


def _described(record: dict[str, Any]) -> str:
    # Files written before the rename say `fields_returned`.
    fields = record.get("fields_permitted", record.get("fields_returned", []))
    refusal = record.get("refusal")
    what = (
        f"refused: {refusal['code']}"
        if refusal
        else f"fields: {', '.join(fields) or '-'}"
    )
    agent = f" agent={record['agent']}" if record.get("agent") else ""
    return (
        f"{record['time']} {record['client_id']} (SIRET {record['recipient']}){agent} "
        f"role={record['role']} purpose={record['purpose']!r} "
        f"request={record['request_id']} {what}"
    )


def _records_about(
    path: Path, subject: str | None, agent: str | None
) -> list[dict[str, Any]]:
    try:
        with path.open("rb") as file:  # lines a crash cut short hold no record
            lines = [line.text for line in chain_lines(file) if not line.cut]
        return list(find(lines, subject, agent))
    except (OSError, UnicodeDecodeError) as error:
        _fail(_unreadable(error, [path]))
    except (ValueError, AttributeError):  # not JSON, or not a record's shape
        _fail(f"{path} holds a line that is not an audit record: run `audit verify`")


def _time_of(record: dict[str, Any]) -> datetime.datetime:
    """Records of several processes, merged in time order (a bad time sorts first)."""
    try:
        when = datetime.datetime.fromisoformat(str(record.get("time")))
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def _audit_chains(arguments: Sequence[str]) -> list[list[Path]]:
    """The chains of the files that the arguments name: each a file, a folder (its files)
    or a glob pattern (expanded here, so a quoted one works too). Files the gateway moved
    aside are read only when named one by one."""
    named: list[Path] = []
    for argument in arguments:
        paths = [path for path in _expand(argument) if not is_side_file(path)]
        if not paths:
            _fail(
                f"{argument}: no audit file there (seal, lock and .tmp files are not)"
                if Path(argument).exists()
                else f"{argument}: no such file or folder, and no file matches it"
            )
        alone = Path(argument).is_file()
        for path in paths:
            if alone or not is_moved_aside(path):
                named.append(path)
            else:
                print(
                    f"citizen-graph: note: {path}: moved aside by the gateway (its seal "
                    "file was missing), left out; name it alone to read it"
                )
    found = chains(named)
    if not found:
        _fail(f"no audit file to read in {' '.join(arguments)}")
    return found


def _expand(argument: str) -> Iterator[Path]:
    """A file, a folder's files, or a pattern's matches (folders among them: their files)."""
    path = Path(argument)
    matches = (
        [path]
        if path.exists()
        else [Path(m) for m in sorted(glob.glob(argument, recursive=True))]
    )
    for match in matches:
        if not match.is_dir():
            yield match
            continue
        try:
            yield from sorted(child for child in match.iterdir() if child.is_file())
        except OSError as error:
            _fail(_unreadable(error, [match]))


def _unreadable(error: OSError | UnicodeDecodeError, paths: Sequence[Path]) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"cannot read {' '.join(map(str, paths))}: not UTF-8 text"
    return f"cannot read {error.filename}: {error.strerror}"


def _chain_secret(settings: Settings) -> str:
    secret = str(settings.audit.chain_secret)
    if not secret and not settings.sandbox.enabled:
        raise SettingsError("audit.chain_secret is required outside sandbox mode")
    return secret or SANDBOX_CHAIN_SECRET
