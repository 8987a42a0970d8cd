"""API keys and agents' JWTs → Caller (client, recipient SIRET, allowed roles, the agent), with
the declared role and purpose.

Keys are held as SHA-256 digests (the clients file never holds a key) and compared in constant
time. Sandbox mode knows the demo keys of the contract and nothing else; otherwise the clients
come from a TOML file:

    [[clients]]
    id = "mairie-exemple-cantine"
    key_sha256 = "<sha256 hex of the key>"   # citizen-graph key-hash prints it
    recipient = "21350238800019"             # the organisation's SIRET
    roles = ["family_portal"]                # the first is the default role
    purposes = ["Tarification cantine 2026"]  # optional: its procedures, the only purposes
    [[clients.habilitations]]                # one per DataPass grant: auth/habilitations.py
    …

An agent's JWT (auth/agents.py) names one of these clients and the roles, among the client's,
that the agent may declare; its subject is the Caller's `agent`.

A declared role is served by the client's habilitation for that role, whose credentials,
scopes and SIRET every upstream call of the request uses; a role with no habilitation is
refused (FORBIDDEN_ROLE).

A purpose is free text for the audit trail, so it must not carry a personal identifier (a run
of 8 or more digits, a full date): such a purpose is refused, and never recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citizen_graph.auth.agents import AgentTokens, bearer_jwt
from citizen_graph.auth.clients import Caller, Client
from citizen_graph.auth.habilitations import (
    HabilitationError,
    check_distinct_credentials,
    parse_habilitations,
)
from citizen_graph.auth.quotas import Quota
from citizen_graph.errors import (
    BadUserInput,
    ConfigurationError,
    ForbiddenRole,
    Unauthenticated,
)
from citizen_graph.identifiers import carries_identifier
from citizen_graph.persisted import ManifestError, TrustedDocuments, read_manifest

MAX_PURPOSE_CHARS = 200
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SIRET = re.compile(r"[0-9]{14}")
REQUIRED_KEYS = {"id", "key_sha256", "recipient", "roles"}
OPTIONAL_KEYS = {
    "purposes",
    "habilitations",
    "quota",
    "trusted_documents",
    "trusted_documents_only",
}
QUOTA_KEYS = {"citizens", "requests", "window_s"}
MAX_QUOTA_WINDOW_S = 86_400


class ClientsError(ConfigurationError):
    """The clients file is invalid; the message names the client and the key."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _utf8(header: str) -> str:
    """HTTP headers arrive as latin-1; a French purpose is UTF-8 ("Aide à l'enfance")."""
    try:
        return header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadUserInput("X-Purpose must be UTF-8 text.") from None


def load_clients(path: Path, env: Mapping[str, str]) -> list[Client]:
    """`env`: where the habilitations' `{ env = "NAME" }` secrets are read."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ClientsError(f"cannot read clients file {path}: {exc}") from None
    entries = raw.get("clients")
    if set(raw) - {"clients"} or not isinstance(entries, list):
        raise ClientsError("the clients file holds one [[clients]] table per client")
    clients = [
        _client(entry, n, env, path.parent) for n, entry in enumerate(entries, start=1)
    ]
    ids = [c.client_id for c in clients]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ClientsError(f"client id {sorted(duplicates)[0]!r} is listed twice")
    names = [h.habilitation_id for c in clients for h in c.habilitations]
    twice = {n for n in names if names.count(n) > 1}
    if twice:
        raise ClientsError(f"habilitation id {sorted(twice)[0]!r} is listed twice")
    try:
        check_distinct_credentials(h for c in clients for h in c.habilitations)
    except HabilitationError as error:
        raise ClientsError(str(error)) from None
    return clients


def _client(entry: Any, n: int, env: Mapping[str, str], folder: Path) -> Client:
    where = f"client #{n}"
    if not isinstance(entry, dict) or not set(entry) >= REQUIRED_KEYS:
        raise ClientsError(f"{where}: needs id, key_sha256, recipient and roles")
    where = f"client {entry['id']!r}"
    unknown = set(entry) - REQUIRED_KEYS - OPTIONAL_KEYS
    if unknown:
        raise ClientsError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if not SHA256_HEX.fullmatch(str(entry["key_sha256"])):
        raise ClientsError(f"{where}: key_sha256 must be 64 lower-case hex digits")
    if not SIRET.fullmatch(str(entry["recipient"])):
        raise ClientsError(f"{where}: recipient must be a 14-digit SIRET")
    roles = _names(entry["roles"], where, "roles", "role names")
    try:
        habilitations = parse_habilitations(
            entry.get("habilitations"),
            str(entry["id"]),
            str(entry["recipient"]),
            roles,
            env,
        )
    except HabilitationError as error:
        raise ClientsError(str(error)) from None
    return Client(
        str(entry["id"]),
        str(entry["key_sha256"]),
        str(entry["recipient"]),
        roles,
        _purposes(entry.get("purposes"), where),
        habilitations,
        _quota(entry.get("quota"), where),
        _documents(entry, where, folder),
    )


def _documents(
    entry: dict[str, Any], where: str, folder: Path
) -> TrustedDocuments | None:
    """`trusted_documents = "manifest.json"` (beside the clients file unless absolute),
    `trusted_documents_only = true` to run nothing else."""
    manifest, only = entry.get("trusted_documents"), entry.get("trusted_documents_only")
    if only is not None and not isinstance(only, bool):
        raise ClientsError(f"{where}: trusted_documents_only must be true or false")
    if manifest is None:
        if only:
            raise ClientsError(
                f"{where}: trusted_documents_only needs trusted_documents"
            )
        return None
    if not isinstance(manifest, str) or not manifest:
        raise ClientsError(f"{where}: trusted_documents must name a manifest file")
    try:
        documents = read_manifest(folder / manifest)
    except ManifestError as error:
        raise ClientsError(f"{where}: {error}") from None
    return TrustedDocuments(documents, only=bool(only))


def _quota(value: Any, where: str) -> Quota | None:
    """`quota = { citizens = 1000, requests = 600, window_s = 60 }` (each optional)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - QUOTA_KEYS:
        raise ClientsError(f"{where}: quota takes citizens, requests and window_s")
    for key in ("citizens", "requests"):
        count = value.get(key, 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ClientsError(f"{where}: quota.{key} must be a positive whole number")
    window = value.get("window_s", 60.0)
    if (
        not isinstance(window, int | float)
        or isinstance(window, bool)
        or not 0 < window <= MAX_QUOTA_WINDOW_S
    ):
        raise ClientsError(
            f"{where}: quota.window_s must be a number of seconds in 0..86400"
        )
    return Quota(
        citizens=int(value.get("citizens", 0)),
        requests=int(value.get("requests", 0)),
        window_s=float(window),
    )


def _names(value: Any, where: str, key: str, what: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise ClientsError(f"{where}: {key} must be a non-empty list of {what}")
    return tuple(value)


def _purposes(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    purposes = tuple(p.strip() for p in _names(value, where, "purposes", "purposes"))
    for number, purpose in enumerate(purposes, start=1):
        if len(purpose) > MAX_PURPOSE_CHARS:
            raise ClientsError(f"{where}: purpose #{number} is over 200 characters")
        if carries_identifier(purpose):
            raise ClientsError(
                f"{where}: purpose #{number} carries a personal identifier"
            )
    return purposes


def _single(headers: Any, name: str, label: str) -> str | None:
    values = headers.getlist(name)
    if len(values) > 1:
        raise BadUserInput(f"Send one {label} header.")
    return values[0] if values else None


def _purpose(header: str | None, client: Client) -> str | None:
    purpose = _utf8(header or "").strip() or None
    if purpose is None:
        return None
    if len(purpose) > MAX_PURPOSE_CHARS:
        raise BadUserInput("X-Purpose must be at most 200 characters.")
    if carries_identifier(purpose):
        raise BadUserInput(
            "A purpose must not carry a personal identifier (8 or more digits, a date)."
        )
    if client.purposes and purpose not in client.purposes:
        raise BadUserInput("The purpose is not one of this client's declared purposes.")
    return purpose


@dataclass(frozen=True)
class Bearer:
    """What a credential grants: its client, the roles it may declare (the default first)
    and, for an agent's token, the agent."""

    client: Client
    roles: tuple[str, ...]
    agent: str | None = None


class Credentials:
    """The known clients (and the verifier of agents' tokens, if any); `authenticate` turns
    request headers into a Caller."""

    def __init__(
        self,
        clients: Iterable[Client],
        agents: AgentTokens | None = None,
        unhabilitated: frozenset[str] = frozenset(),
    ) -> None:
        """`unhabilitated`: the roles that call no upstream, so need no habilitation (the
        policy's `composes_schema` roles)."""
        self.clients = tuple(clients)
        self.agents = agents
        self.unhabilitated = unhabilitated
        self._by_id = {client.client_id: client for client in self.clients}

    def authenticate(self, headers: Any) -> Caller:
        """`headers`: Starlette's Headers (several Authorization or X-Role are refused)."""
        bearer = self._bearer(_single(headers, "authorization", "Authorization") or "")
        client = bearer.client
        role = _single(headers, "x-role", "X-Role")
        if role is not None and not role.strip():
            raise BadUserInput("X-Role must name a role (or be left out).")
        role = role.strip() if role is not None else bearer.roles[0]
        if role not in bearer.roles:
            raise ForbiddenRole
        habilitation = client.habilitation_for(role)
        if habilitation is None and role not in self.unhabilitated:
            raise ForbiddenRole(
                f"The role {role} is not served by any habilitation of this client: "
                "no upstream may be called for it."
            )
        purpose = _purpose(_single(headers, "x-purpose", "X-Purpose"), client)
        return Caller(
            client.client_id,
            client.recipient,
            role,
            bearer.roles,
            purpose,
            habilitation,
            client.quota,
            bearer.agent,
            client.documents,
        )

    def identify(self, headers: Any) -> Bearer | None:
        """What a refused request's one credential proves, if it is valid (for the audit):
        its client and, for an agent's token, the agent; a token only when its key is at
        hand (no JWKS fetch)."""
        keys = headers.getlist("authorization")
        try:
            return self._bearer(keys[0], fetch=False) if len(keys) == 1 else None
        except Unauthenticated:
            return None

    def may_fetch(self, headers: Any) -> bool:
        """Whether authenticating may fetch the agents' JWKS (a blocking call)."""
        token = bearer_jwt(headers.get("authorization", ""))
        return bool(self.agents and token and not self.agents.holds_key(token))

    def _bearer(self, authorization: str, fetch: bool = True) -> Bearer:
        token = bearer_jwt(authorization)
        if token is None:
            client = self._client(authorization)
            return Bearer(client, client.roles)
        if self.agents is None:
            raise Unauthenticated(
                "This gateway accepts no agents' tokens (no JWKS set)."
            )
        claims = self.agents.verify(token, fetch)
        client = claims.fitted(self._by_id.get(claims.client_id))
        return Bearer(client, claims.roles, claims.subject)

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
