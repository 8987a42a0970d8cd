"""The audit trail's chain: keyed links, seals, and the verification `audit verify` runs.

Each line's `prev` is the HMAC of the previous line's text under the chain secret, so the chain
cannot be re-linked after an edit without it; seals (a chained line, plus the signed
`<file>.seal` side file) record how many lines a file held and its last link, so truncation is
seen too; recovery records say where a run stopped without its seal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

GENESIS = "0" * 64
ROTATED_SUFFIX = re.compile(r"\.\d{8}T\d{12}Z")  # audit.jsonl.20261129T014012123456Z
MOVED_ASIDE = (
    ".unsealed-"  # audit.jsonl.unsealed-20261129T014012123456Z: found without a seal
)
# Beside each chain, never part of it: its seal file, the writer's lock, a seal being written.
SIDE_SUFFIXES = (".seal", ".lock", ".tmp")
RESTART_EVENT = "chain_restarted"  # the writer found its file or seal file missing
RECOVERY_EVENT = "recovery"  # the writer found its chain ending without a seal
# As the writer writes it: JSON escapes the quotes of a value, so no value can hold it.
RECOVERY_MARK = f'"event":"{RECOVERY_EVENT}"'
UNSEALED_NOTE = "not sealed: the gateway is running or did not stop cleanly"
CUT_NOTE = (
    "the last line is cut short: the gateway was killed while writing it, and that "
    "record is lost (the gateway declares it in a recovery record when it restarts)"
)
SEAL_FILE_MISSING = (
    "the seal file is missing (a gateway writes it when it opens a file): "
    "it was removed"
)


@dataclass
class Tail:
    """Where the active file ends: what the next line links to and the next seal counts."""

    previous: str = GENESIS  # MAC of the last line written (the next line's `prev`)
    start: str = GENESIS  # the `prev` of the file's first line
    last_record: str = GENESIS  # MAC of the file's last record (not seal); else `start`
    lines: int = 0
    records: int = 0
    unsealed: int = 0  # records after the last seal
    rotation_sealed: bool = False  # the last line is a rotation seal
    last_seal_line: int = 0  # the line number of the file's last seal line (verify)


class ChainKey:
    """HMAC-SHA-256 under the chain secret: without it, an edited chain cannot be re-linked."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("citizen-graph/chain/" + secret).encode()).digest()

    def line(self, text: str) -> str:
        # surrogateescape: a line cut inside a character is MACed as the bytes it holds.
        data = text.encode("utf-8", "surrogateescape")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

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


def chains(paths: Iterable[Path]) -> list[list[Path]]:
    """Audit files grouped into chains, each oldest first: a live file after its rotated files
    (`audit.jsonl.<stamp>`…, `audit.jsonl`). Each worker's and each replica's file is a chain
    of its own; side files are left out, and a file named twice is read once."""
    grouped: dict[Path, dict[Path, Path]] = {}
    for path in paths:
        if not is_side_file(path):
            real = path.resolve()
            grouped.setdefault(live_file(real), {}).setdefault(real, path)
    return [
        [
            files[real]
            for real in sorted(files, key=lambda p: (live_file(p) == p, p.name))
        ]
        for _, files in sorted(grouped.items())
    ]


def live_file(path: Path) -> Path:
    """The file a rotated file was rotated from; any other file is its own live file."""
    rotated = re.search(ROTATED_SUFFIX.pattern + r"\Z", path.name)
    return path.with_name(path.name[: rotated.start()]) if rotated else path


def is_side_file(path: Path) -> bool:
    return path.name.endswith(SIDE_SUFFIXES)


def is_moved_aside(path: Path) -> bool:
    """A file the writer moved aside at start-up (its seal file was missing)."""
    name, _, stamp = path.name.rpartition(MOVED_ASIDE)
    return bool(name) and ROTATED_SUFFIX.fullmatch("." + stamp) is not None


class Line(NamedTuple):
    """One non-blank line of an audit file."""

    text: str
    cut: bool  # cut short by a crash mid-write: no record, no link in the chain
    open: bool = False  # the file's last line, without its newline


def chain_lines(file: IO[bytes], key: ChainKey | None = None) -> Iterator[Line]:
    """The lines of an audit file opened in binary mode, each marked if a crash cut it short:
    the last line when it lacks its newline and is no JSON object, or a line that the recovery
    record after it declares (by its MAC under `key`; keyless: any line that is no record).
    Raises UnicodeDecodeError for a line that is not UTF-8 text (beyond a cut character)."""
    return _marked(_texts(file), key)


def _texts(file: IO[bytes]) -> Iterator[tuple[str, bool]]:
    for raw in file:
        text = _decoded(raw.removesuffix(b"\n"))
        if text.strip():
            yield text, raw.endswith(b"\n")


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason != "unexpected end of data":  # only a cut ends mid-character
            raise
        return raw.decode("utf-8", "surrogateescape")


def _marked(texts: Iterable[tuple[str, bool]], key: ChainKey | None) -> Iterator[Line]:
    held: tuple[str, bool] | None = None
    for current in texts:
        if held is not None:
            yield _line(*held, current[0], key)
        held = current
    if held is not None:
        yield _line(*held, None, key)


def _line(text: str, ended: bool, following: str | None, key: ChainKey | None) -> Line:
    cut = (not ended and json_object(text) is None) or _declared_cut(
        text, following, key
    )
    return Line(text, cut, not ended)


def _declared_cut(text: str, following: str | None, key: ChainKey | None) -> bool:
    if following is None or RECOVERY_MARK not in following:
        return False
    cut = (json_object(following) or {}).get("cut")
    if not isinstance(cut, dict):
        return False
    return cut.get("mac") == key.line(text) if key else json_object(text) is None


@dataclass(frozen=True)
class ChainBreak:
    line: int | None  # None: the break is in the seal file
    reason: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        line = f"record {self.line}: " if self.line is not None else ""
        return f"{where}{line}{self.reason}"


_SINCE = {
    "seal": "after the last seal",
    "recovery": "after the unclean stop before it",
    "start": "since the chain's start",
}


@dataclass(frozen=True)
class Recovery:
    """A recovery record: the run before its writer stopped without its shutdown seal."""

    line: int
    record: dict[str, Any]
    file: str | None = None

    @property
    def records(self) -> Any:
        return self.record.get("records")  # unsealed by the run that stopped

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        since = _SINCE.get(str(self.record.get("since")), _SINCE["seal"])
        text = (
            f"{where}record {self.line}: unclean stop: at {self.record.get('time')} the "
            "gateway found that the run before ended without its shutdown seal (its last "
            f"whole line at {self.record.get('last_time')}): {self.records} record(s) "
            f"{since} were left unsealed"
        )
        cut = self.record.get("cut")
        if isinstance(cut, dict):
            text += (
                f"; the line before was cut short by the crash ({cut.get('bytes')} "
                "bytes): its record is lost"
            )
        return text


@dataclass(frozen=True)
class ChainReport:
    breaks: list[ChainBreak]
    unsealed: int  # records after the last seal: informational, not a break
    # Unclean stops, and a last line cut short not yet declared: notes, not breaks.
    recoveries: list[Recovery] = field(default_factory=list)
    cut_tail: bool = False

    @property
    def note(self) -> str | None:
        unsealed = f"{self.unsealed} records after the last seal ({UNSEALED_NOTE})"
        notes = [unsealed] if self.unsealed else []
        return "; ".join(notes + [CUT_NOTE] * self.cut_tail) or None


@dataclass
class _Verifier:
    """One pass over the lines of one chain (several files, oldest first)."""

    key: ChainKey
    expected: str | None  # the next `prev`; None: any (the first line, partial)
    mark: int  # the line number, in the active file, that the seal file names
    breaks: list[ChainBreak] = field(default_factory=list)
    number: int = 0  # line number across all files
    part: Tail = field(default_factory=Tail)  # the current file, since its start
    marked: str | None = None  # MAC of the line at `mark` in the current file
    sealed_before: bool = False  # a seal line was seen
    ended_on_rotation: bool = False  # the last line read is a rotation seal
    previous_text: str = ""
    started: bool = False  # a line was linked (cut lines are not)
    recoveries: list[Recovery] = field(default_factory=list)
    open_cut: bool = False  # the last line read is cut short and not yet declared

    def feed(self, line: Line) -> None:
        if line.cut:
            self._skip(line)
        else:
            self._take(line.text)

    def _skip(self, line: Line) -> None:
        """A line cut short by a crash: it counts as a line, never as a record or a link."""
        self.number += 1
        self.part.lines += 1
        if self.part.lines == self.mark:
            self.marked = self.key.line(line.text)
        self.open_cut = line.open

    def _take(self, text: str) -> None:
        self.number += 1
        self.open_cut = False
        mac = self.key.line(text)
        record = json_object(text)
        if record is None:
            self._break("not a JSON record")
            record = {}
        self._link(record.get("prev"))
        self._event(record)
        seal = record.get("seal")
        if isinstance(seal, dict):
            self._check_seal(seal)
            self.part.unsealed = 0
            self.part.last_seal_line = self.part.lines + 1
        else:
            self.part.records += 1
            self.part.unsealed += 1
            self.part.last_record = mac
        self.part.lines += 1
        if self.part.lines == self.mark:
            self.marked = mac
        self.expected, self.previous_text = mac, text
        self.ended_on_rotation = (
            isinstance(seal, dict) and seal.get("reason") == "rotation"
        )
        if self.ended_on_rotation:
            self.part, self.marked = Tail(start=mac, last_record=mac), None

    def _event(self, record: dict[str, Any]) -> None:
        if record.get("event") == RECOVERY_EVENT:
            self.recoveries.append(Recovery(self.number, record))
        if record.get("event") != RESTART_EVENT:
            return
        aside = record.get("moved_aside")
        self._break(
            "the chain was restarted: the active file or its seal file was missing "
            "when the gateway started"
            + (f" (the file was moved aside as {aside})" if aside else " (removed)")
        )

    def _link(self, prev: Any) -> None:
        first, self.started = not self.started, True
        if first:
            self.part.start = self.part.last_record = str(prev)
        if self.expected is None or prev == self.expected:
            return
        if first:
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
        if self.ended_on_rotation:
            return ChainBreak(
                self.number,
                "the chain rotated into a newer file that was not given (the active "
                "file, or a newer rotated one): it was removed, or list it last",
            )
        if seal is None:
            return ChainBreak(None, SEAL_FILE_MISSING)
        if not seal.is_signed(self.key):
            return ChainBreak(
                None, "the seal file is not signed by the chain key: forged"
            )
        if seal.lines < self.part.last_seal_line:
            return ChainBreak(
                before + self.part.last_seal_line,
                "a seal line the seal file does not know of (a real seal updates it): "
                "forged",
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


def json_object(text: str) -> dict[str, Any] | None:
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
    from_files: bool = False,
) -> ChainReport:
    """Check each line's `prev` against the keyed MAC of the line before, the seal lines, and
    the active (last) file's end against its seal file (`from_files`: the lines are whole
    files, so that file must have one, and the chain must not end on a rotation).

    The first record must start the chain (GENESIS), so removing the oldest records is seen
    too; `first_prev=None` accepts any start (the oldest files were purged by retention).
    Recovery records are reported, not breaks; the line cut short by a crash that one
    declares (by its MAC) is counted as a line, never linked.
    """
    chain_key = ChainKey(key)
    texts = ((line.rstrip("\n"), True) for line in lines if line.strip())
    return _verified(_marked(texts, chain_key), chain_key, first_prev, seal, from_files)


def _verified(
    lines: Iterable[Line],
    key: ChainKey,
    first_prev: str | None,
    seal: SealFile | None,
    from_files: bool,
) -> ChainReport:
    verifier = _Verifier(key, first_prev, seal.lines if seal else 0)
    for line in lines:
        verifier.feed(line)
    # Lines read from files: the active (last) one must end as its seal file says.
    end = verifier.check_seal_file(seal) if from_files or seal else None
    breaks = [*verifier.breaks, end] if end else verifier.breaks
    return ChainReport(
        breaks, verifier.part.unsealed, verifier.recoveries, verifier.open_cut
    )


def verify_files(
    paths: Sequence[Path], key: str, *, partial: bool = False
) -> ChainReport:
    """`verify` over files read oldest first, the last one's seal file included; each break
    and recovery names its file and its line there. Raises OSError if a file cannot be
    read, UnicodeDecodeError if one is not text."""
    chain_key = ChainKey(key)
    texts = [
        _file_lines(p, chain_key, last=n == len(paths) - 1) for n, p in enumerate(paths)
    ]
    report = _verified(
        (line for text in texts for line in text),
        chain_key,
        None if partial else GENESIS,
        read_seal_file(seal_path(paths[-1])),
        True,
    )
    return replace(
        report,
        breaks=[_located(b, paths, texts) for b in report.breaks],
        recoveries=[_located(r, paths, texts) for r in report.recoveries],
    )


def _file_lines(path: Path, key: ChainKey, *, last: bool) -> list[Line]:
    with path.open("rb") as file:
        lines = list(chain_lines(file, key))
    if not last and lines and lines[-1].open:  # only the active file may be cut short
        lines[-1] = lines[-1]._replace(cut=False)
    return lines


_Located = TypeVar("_Located", ChainBreak, Recovery)


def _located(
    found: _Located, paths: Sequence[Path], texts: list[list[Line]]
) -> _Located:
    if found.line is None:
        return replace(found, file=str(seal_path(paths[-1])))
    line = found.line
    for path, text in zip(paths[:-1], texts[:-1], strict=True):
        if line <= len(text):
            return replace(found, line=line, file=str(path))
        line -= len(text)
    return replace(found, line=line, file=str(paths[-1]))
