"""API keys → Caller (client, recipient SIRET, allowed roles), with the declared role and purpose.

Keys are held as SHA-256 digests (the clients file never holds a key) and compared in constant
time. Sandbox mode knows the demo keys of the contract and nothing else; otherwise the clients
come from a TOML file:

    [[clients]]
    id = "mairie-exemple-cantine"
    key_sha256 = "<sha256 hex of the key>"   # citizen-graph key-hash prints it
    recipient = "21350238800019"             # the organisation's SIRET
    roles = ["family_portal"]                # the first is the default role
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citizen_graph.errors import BadUserInput, ForbiddenRole, Unauthenticated

MAX_PURPOSE_CHARS = 200
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SIRET = re.compile(r"[0-9]{14}")


class ClientsError(ValueError):
    """The clients file is invalid; the message names the client and the key."""


@dataclass(frozen=True)
class Client:
    client_id: str
    key_sha256: str
    recipient: str  # SIRET of the organisation receiving the data
    roles: tuple[str, ...]  # the first one is the default


@dataclass(frozen=True)
class Caller:
    client_id: str
    recipient: str
    role: str
    allowed_roles: tuple[str, ...]
    purpose: str | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# The contract's demo keys (sandbox mode only): key → (recipient SIRET, roles).
DEMO_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "demo-family-portal": ("21350238800019", ("family_portal",)),
    "demo-social-services": ("26350238800011", ("social_services",)),
    "demo-student-aid": ("18004623700013", ("student_aid",)),
    "demo-address-check": ("21350238800019", ("address_check",)),
    "demo-all-roles": (
        "26350238800011",
        ("social_services", "family_portal", "student_aid", "address_check"),
    ),
}
# Client ids are not the keys: ids go to the audit trail, keys never do.
DEMO_CLIENTS = tuple(
    Client("demo-client-" + key.removeprefix("demo-"), key_hash(key), recipient, roles)
    for key, (recipient, roles) in DEMO_KEYS.items()
)


def _utf8(header: str) -> str:
    """HTTP headers arrive as latin-1; a French purpose is UTF-8 ("Aide à l'enfance")."""
    try:
        return header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadUserInput("X-Purpose must be UTF-8 text.") from None


def load_clients(path: Path) -> list[Client]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ClientsError(f"cannot read clients file {path}: {exc}") from None
    entries = raw.get("clients")
    if set(raw) - {"clients"} or not isinstance(entries, list):
        raise ClientsError("the clients file holds one [[clients]] table per client")
    clients = [_client(entry, n) for n, entry in enumerate(entries, start=1)]
    ids = [c.client_id for c in clients]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ClientsError(f"client id {sorted(duplicates)[0]!r} is listed twice")
    return clients


def _client(entry: Any, n: int) -> Client:
    where = f"client #{n}"
    if not isinstance(entry, dict) or set(entry) != {
        "id",
        "key_sha256",
        "recipient",
        "roles",
    }:
        raise ClientsError(
            f"{where}: needs exactly id, key_sha256, recipient and roles"
        )
    where = f"client {entry['id']!r}"
    if not SHA256_HEX.fullmatch(str(entry["key_sha256"])):
        raise ClientsError(f"{where}: key_sha256 must be 64 lower-case hex digits")
    if not SIRET.fullmatch(str(entry["recipient"])):
        raise ClientsError(f"{where}: recipient must be a 14-digit SIRET")
    roles = entry["roles"]
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) for r in roles)
    ):
        raise ClientsError(f"{where}: roles must be a non-empty list of role names")
    return Client(
        str(entry["id"]),
        str(entry["key_sha256"]),
        str(entry["recipient"]),
        tuple(roles),
    )


class Credentials:
    """The known clients; `authenticate` turns request headers into a Caller."""

    def __init__(self, clients: Iterable[Client]) -> None:
        self.clients = tuple(clients)

    def authenticate(self, headers: Any) -> Caller:
        """`headers`: Starlette's Headers (several X-Role headers are refused)."""
        client = self._client(headers.get("authorization", ""))
        declared = headers.getlist("x-role")
        if len(declared) > 1:
            raise BadUserInput("Declare one role (a single X-Role header).")
        role = (declared[0].strip() if declared else "") or client.roles[0]
        if role not in client.roles:
            raise ForbiddenRole
        purpose = _utf8(headers.get("x-purpose", "")).strip() or None
        if purpose is not None and len(purpose) > MAX_PURPOSE_CHARS:
            raise BadUserInput("X-Purpose must be at most 200 characters.")
        return Caller(client.client_id, client.recipient, role, client.roles, purpose)

    def _client(self, authorization: str) -> Client:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated
        digest = hashlib.sha256(key.strip().encode()).hexdigest()
        found = None
        for client in self.clients:  # no early exit: the time does not tell which key
            if hmac.compare_digest(digest, client.key_sha256):
                found = client
        if found is None:
            raise Unauthenticated
        return found
