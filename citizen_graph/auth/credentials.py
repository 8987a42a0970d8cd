"""API keys → Caller (client, recipient SIRET, allowed roles), with the declared role and purpose.

Keys are held as SHA-256 digests and compared in constant time. Sandbox mode knows the demo keys
of the contract; the full clients file and the policy come with the authorization issue.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from citizen_graph.errors import BadUserInput, ForbiddenRole, Unauthenticated

MAX_PURPOSE_CHARS = 200


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


def _demo(key: str, recipient: str, *roles: str) -> Client:
    return Client(key, hashlib.sha256(key.encode()).hexdigest(), recipient, roles)


DEMO_CLIENTS = (
    _demo("demo-family-portal", "21350238800019", "family_portal"),
    _demo("demo-social-services", "26350238800011", "social_services"),
    _demo("demo-student-aid", "18004623700013", "student_aid"),
    _demo("demo-address-check", "21350238800019", "address_check"),
    _demo(
        "demo-all-roles",
        "26350238800011",
        "social_services",
        "family_portal",
        "student_aid",
        "address_check",
    ),
)


class Credentials:
    """The known clients; `authenticate` turns request headers into a Caller."""

    def __init__(self, clients: Iterable[Client]) -> None:
        self._clients = tuple(clients)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        client = self._client(headers.get("authorization", ""))
        role = headers.get("x-role", "").strip() or client.roles[0]
        if role not in client.roles:
            raise ForbiddenRole
        purpose = headers.get("x-purpose", "").strip() or None
        if purpose is not None and len(purpose) > MAX_PURPOSE_CHARS:
            raise BadUserInput("X-Purpose must be at most 200 characters.")
        return Caller(client.client_id, client.recipient, role, client.roles, purpose)

    def _client(self, authorization: str) -> Client:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthenticated
        digest = hashlib.sha256(key.strip().encode()).hexdigest()
        found = None
        for client in self._clients:  # no early exit: the time does not tell which key
            if hmac.compare_digest(digest, client.key_sha256):
                found = client
        if found is None:
            raise Unauthenticated
        return found
