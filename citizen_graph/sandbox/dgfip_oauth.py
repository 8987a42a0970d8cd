"""DGFiP OAuth2 client credentials: the clients of one sandbox app, each with its scopes, and
the access tokens `POST /dgfip/token` issues them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

# The default client holds every scope and keeps the sandbox's historical behaviour: its tokens
# carry every scope whatever the token request's `scope` asks (RFC 6749 §3.3 lets a server
# ignore it; the response's `scope` says what was granted). A registered client's tokens carry
# its scopes, narrowed to the requested ones when the request names some.

# The API Impôt particulier OAuth scopes, one per route family (reference §3.3).
SCOPES = (
    "RessourceIR",
    "RessourceIRDerniere",
    "RessourceIRDerniere2",
    "RessourceIRMultiple",
    "RessourceIRFacture",
    "RessourceIFI",
    "RessourceTHPrincipale",
    "RessourceLEP",
)
CLIENT_ID = "citizen-graph-sandbox"
CLIENT_SECRET = "sandbox-dgfip-secret-not-for-production"
TOKEN_LIFETIME_S = 3600
MAX_CLIENTS = (
    10_000  # registered clients per app: `/_sandbox` is open to anyone who reaches it
)
# Compared against when the client_id is unknown, so that the answer takes as long.
_NO_SECRET = "no client has this secret, and no client is authenticated by it"


class ScopeError(ValueError):
    """Scope names that API Impôt particulier does not know; the message lists them."""


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str = field(repr=False)
    scopes: frozenset[str]
    narrows: bool = (
        True  # honours the token request's `scope` (the default client does not)
    )


@dataclass(frozen=True, slots=True)
class AccessToken:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # monotonic clock


def parse_scopes(names: Iterable[str]) -> frozenset[str]:
    scopes = frozenset(names)
    unknown = scopes - set(SCOPES)
    if unknown:
        raise ScopeError(
            f"Unknown scopes: {', '.join(sorted(unknown))}. Known: {', '.join(SCOPES)}."
        )
    return scopes


def scope_string(scopes: frozenset[str]) -> str:
    """OAuth2's `scope`: space-separated, in the reference's order."""
    return " ".join(s for s in SCOPES if s in scopes)


class OAuthServer:
    def __init__(self) -> None:
        default = Client(CLIENT_ID, CLIENT_SECRET, frozenset(SCOPES), narrows=False)
        self._clients = {default.client_id: default}
        self._tokens: dict[str, AccessToken] = {}

    def register(self, scopes: frozenset[str]) -> Client:
        """A new client with fresh random credentials (raises OverflowError past MAX_CLIENTS)."""
        if len(self._clients) > MAX_CLIENTS:
            raise OverflowError(MAX_CLIENTS)
        client_id = f"sandbox-client-{secrets.token_hex(8)}"
        client = Client(client_id, secrets.token_urlsafe(32), scopes)
        self._clients[client_id] = client
        return client

    def authenticate(self, client_id: str, secret: str) -> Client | None:
        client = self._clients.get(client_id)
        expected = client.secret if client is not None else _NO_SECRET
        valid = secrets.compare_digest(secret.encode(), expected.encode())
        return client if client is not None and valid else None

    def issue(self, client: Client, requested: str) -> tuple[str, AccessToken] | None:
        """A fresh access token for `client`, or None when it holds none of the `requested`
        scopes (OAuth2's `invalid_scope`)."""
        scopes = client.scopes
        wanted = frozenset(requested.split())
        if client.narrows and wanted:
            scopes = scopes & wanted
            if not scopes:
                return None
        now = time.monotonic()
        self._tokens = {t: a for t, a in self._tokens.items() if a.expires_at > now}
        token = secrets.token_urlsafe(32)
        access = AccessToken(client.client_id, scopes, now + TOKEN_LIFETIME_S)
        self._tokens[token] = access
        return token, access

    def verify(self, token: str) -> AccessToken | None:
        access = self._tokens.get(token)
        if access is None or access.expires_at < time.monotonic():
            return None
        return access

    def revoke(self) -> int:
        """Invalidate every access token of every client; the number revoked."""
        revoked = len(self._tokens)
        self._tokens.clear()
        return revoked
