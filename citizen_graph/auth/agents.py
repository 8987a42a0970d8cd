"""Agents' JWTs (OIDC, ProConnect-style) → the verified claims naming the agent, its client
and the roles it may declare; `credentials.py` matches them with the clients.

RS256 and ES256 only, against a JWKS: a file, or a URL read through PyJWT's PyJWKClient
(cached for `jwks_ttl_s`, fetched again for an unknown `kid`, at most once per
`jwks_refetch_s`); `iss`, `aud`, `exp`, `nbf` and `iat` (JSON numbers) checked with
`leeway_s`. The gateway's claims sit in one namespace, as Hasura's do:

    "https://citizen-graph.fr/claims": {"client": "<client id>", "siret": "<14 digits>",
                                        "roles": ["family_portal"], "default_role": "…"}

`siret` and `default_role` are optional (the client's SIRET; the first role). A refusal
names the failing check, never the token nor a claim's value.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeGuard
from urllib.parse import SplitResult, urlsplit

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import InvalidSubjectError

from citizen_graph.auth.clients import Client
from citizen_graph.errors import Unauthenticated
from citizen_graph.settings import AuthSettings, Settings, SettingsError

NAMESPACE = "https://citizen-graph.fr/claims"
ALGORITHMS = ("RS256", "ES256")  # pinned: `none`, HS256 and the rest are refused
REQUIRED = ("exp", "iat", "iss", "aud", "sub")
TIMES = ("exp", "nbf", "iat")  # NumericDates (RFC 7519 §2): JSON numbers
MAX_LEEWAY_S = 300.0
MAX_SUBJECT_CHARS = 255
FETCH_TIMEOUT_S = 2.0  # a JWKS fetch holds the requests that wait for its keys
# The sandbox's own (CONTRACT.md §9), trusted exactly when the demo keys are.
SANDBOX_JWKS_PATH = "/_sandbox/jwks.json"
SANDBOX_ISSUER = "https://sandbox.citizen-graph.invalid"
SANDBOX_AUDIENCE = "citizen-graph"

SIRET = re.compile(r"[0-9]{14}")
JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*", re.ASCII)  # eyJ: base64url of '{"'
# Printable ASCII, no space: a UUID, an opaque id, an e-mail.
SUBJECT = re.compile(r"[\x21-\x7e]+")
ALGORITHM = "The token's algorithm is not accepted (RS256 or ES256 only)."
MALFORMED = "The token is not a well-formed JWT."
SUBJECT_CHECK = "The token's subject (sub) is not a printable id."
UNKNOWN_KEY = "The token's signing key (kid) is not one of the trusted keys."
CHECKS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired (exp)."),
    (jwt.ImmatureSignatureError, "The token is not valid yet (nbf or iat)."),
    (jwt.InvalidIssuerError, "The token's issuer (iss) is not the trusted one."),
    (jwt.InvalidAudienceError, "The token's audience (aud) is not this gateway."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
    (jwt.InvalidAlgorithmError, ALGORITHM),
    (jwt.InvalidKeyError, ALGORITHM),
    (InvalidSubjectError, SUBJECT_CHECK),
    (jwt.DecodeError, MALFORMED),
)
logger = logging.getLogger("citizen_graph.auth")


class SigningKeys(Protocol):
    def holds(self, kid: str) -> bool:
        """Whether the key is at hand: finding it will not fetch the JWKS."""

    def get_signing_key(self, kid: str) -> PyJWK:
        """The key (fetching the JWKS if needed); PyJWTError when it is not there."""


@dataclass(frozen=True)
class AgentClaims:
    subject: str  # `sub`: the agent, as the identity provider names it
    client_id: str
    roles: tuple[str, ...]  # the default role first
    siret: str | None

    def fitted(self, client: Client | None) -> Client:
        """The client they name, if they fit it (its roles, its SIRET)."""
        if client is None:
            raise Unauthenticated("The token's client is not a client of this gateway.")
        if not set(self.roles) <= set(client.roles):
            raise Unauthenticated("The token grants a role its client does not have.")
        if self.siret is not None and self.siret != client.recipient:
            raise Unauthenticated("The token's SIRET is not its client's.")
        return client


class NotNumericDate(jwt.DecodeError):
    def __init__(self, claim: str) -> None:
        super().__init__(f"{claim} is not a NumericDate")
        self.claim = claim


class NumericDatesJWT(jwt.PyJWT):
    """PyJWT holding exp, nbf and iat to JSON numbers, checked once the signature is: PyJWT
    applies int(), which would take "9999999999" and true."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        payload = super()._decode_payload(decoded)
        for claim in TIMES:
            if claim in payload and not _numeric(payload[claim]):
                raise NotNumericDate(claim)
        return payload


def _numeric(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


class AgentTokens:
    """Verifies agents' tokens: signature, algorithm, times, issuer, audience, claims."""

    def __init__(
        self, keys: SigningKeys, issuer: str, audience: str, leeway_s: float
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._jwt = NumericDatesJWT()

    def holds_key(self, token: str) -> bool:
        """Whether verifying `token` needs no JWKS fetch (a malformed one needs none)."""
        try:
            return self.keys.holds(_kid(token))
        except Unauthenticated:
            return True

    def verify(self, token: str, fetch: bool = True) -> AgentClaims:
        """The token's claims, or Unauthenticated naming the failed check. `fetch=False`:
        refused rather than fetch the JWKS (the audit of a refusal, which must not wait)."""
        kid = _kid(token)
        if not fetch and not self.keys.holds(kid):
            raise Unauthenticated(UNKNOWN_KEY)
        try:
            key = self.keys.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise Unauthenticated("The agents' key set cannot be fetched.") from None
        except jwt.PyJWTError:
            raise Unauthenticated(UNKNOWN_KEY) from None
        return _claims(self._decode(token, key))

    def _decode(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED)},
            )
        except jwt.MissingRequiredClaimError as error:  # its name is one of REQUIRED
            raise Unauthenticated(f"The token lacks the {error.claim} claim.") from None
        except NotNumericDate as error:  # its name is one of TIMES
            raise Unauthenticated(
                f"The token's {error.claim} claim is not a number (a NumericDate)."
            ) from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(_failed_check(error)) from None
        return claims


def _kid(token: str) -> str:
    """The signing key the token names, from its unverified header (alg pinned first)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated(MALFORMED) from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthenticated(ALGORITHM)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated("The token names no signing key (kid).")
    return kid


def _signing(keys: list[PyJWK]) -> list[PyJWK]:
    """The keys for signatures (`use` sig or unsaid) that name themselves (`kid`)."""
    return [k for k in keys if k.public_key_use in ("sig", None) and k.key_id]


def bearer_jwt(authorization: str) -> str | None:
    """The bearer credential if it has a JWT's shape (an API key has no dots)."""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and JWT.fullmatch(credential):
        return credential
    return None


def _failed_check(error: jwt.PyJWTError) -> str:
    return next(
        (message for kind, message in CHECKS if isinstance(error, kind)),
        "The token is invalid.",
    )


def _claims(claims: Mapping[str, Any]) -> AgentClaims:
    subject = claims["sub"]
    if not SUBJECT.fullmatch(subject) or len(subject) > MAX_SUBJECT_CHARS:
        raise Unauthenticated(SUBJECT_CHECK)
    ours = claims.get(NAMESPACE)
    if not isinstance(ours, dict):
        raise Unauthenticated(f"The token lacks the {NAMESPACE} claim.")
    client, roles = ours.get("client"), ours.get("roles")
    default, siret = ours.get("default_role"), ours.get("siret")
    if not isinstance(client, str) or not client:
        raise Unauthenticated(f"The token's {NAMESPACE} claim names no client.")
    if not _names(roles):
        raise Unauthenticated(f"The token's {NAMESPACE} roles are not a list of roles.")
    if default is not None and default not in roles:
        raise Unauthenticated("The token's default_role is not one of its roles.")
    if siret is not None and not (isinstance(siret, str) and SIRET.fullmatch(siret)):
        raise Unauthenticated("The token's siret is not a 14-digit SIRET.")
    first = default or roles[0]
    ordered = (first, *(role for role in dict.fromkeys(roles) if role != first))
    return AgentClaims(subject, client, ordered, siret)


def _names(value: Any) -> TypeGuard[list[str]]:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, str) and item for item in value)
    )


class JwksClient(PyJWKClient):
    """PyJWKClient whose fetches, successful or not, are at most one per `refetch_s`: its
    own cooldown starts at a success only, so a JWKS that is down would be tried by every
    token naming an unknown `kid`. While the JWKS cannot be fetched, the last set serves."""

    def __init__(self, url: str, refetch_s: float, ttl_s: float) -> None:
        super().__init__(
            url, lifespan=ttl_s, cooldown_duration=refetch_s, timeout=FETCH_TIMEOUT_S
        )
        self.refetch_s = refetch_s
        self._tried: float | None = None

    def holds(self, kid: str) -> bool:
        cached = self.jwk_set_cache.get() if self.jwk_set_cache else None
        if cached is None:
            return False
        return self.match_kid(_signing(cached.keys), kid) is not None

    def fetch_data(self) -> Any:
        now = time.monotonic()
        if self._tried is not None and now - self._tried < self.refetch_s:
            return self._last("fetched less than jwks_refetch_s ago")
        self._tried = now
        try:
            return super().fetch_data()
        except (jwt.PyJWTError, ValueError) as error:  # ValueError: not JSON
            logger.warning(
                "the agents' JWKS could not be fetched",
                extra={"jwks_url": self.uri, "error": type(error).__name__},
            )
            return self._last("the JWKS could not be fetched")

    def _last(self, why: str) -> PyJWKSet:
        held = self.jwk_set_cache.jwk_set_with_timestamp if self.jwk_set_cache else None
        if held is None:
            raise jwt.PyJWKClientConnectionError(why)
        return held.get_jwk_set()


class JwksFile:
    """A JWKS file, read at start-up and read again for an unknown `kid` (at most once per
    `refetch_s`), so that keys rotate without a restart."""

    def __init__(self, path: Path, refetch_s: float) -> None:
        self.path = path
        self.refetch_s = refetch_s
        try:
            self._keys = self._read()
        except (OSError, ValueError, jwt.PyJWTError) as error:
            raise SettingsError(
                f"auth.jwks_file: cannot read a JWKS from {path} ({type(error).__name__})"
            ) from None
        self._read_at = time.monotonic()

    def holds(self, kid: str) -> bool:
        return True  # reading a local file does not wait on anyone

    def get_signing_key(self, kid: str) -> PyJWK:
        key = PyJWKClient.match_kid(self._keys, kid)
        if key is None and time.monotonic() - self._read_at >= self.refetch_s:
            self._read_at = time.monotonic()
            with contextlib.suppress(OSError, ValueError, jwt.PyJWTError):
                self._keys = self._read()
            key = PyJWKClient.match_kid(self._keys, kid)
        if key is None:
            raise jwt.PyJWKClientError(UNKNOWN_KEY)
        return key

    def _read(self) -> list[PyJWK]:
        jwks = PyJWKSet.from_dict(json.loads(self.path.read_text(encoding="utf-8")))
        return _signing(jwks.keys)


def agent_tokens(settings: Settings) -> AgentTokens | None:
    """The verifier the settings ask for; None: API keys only. Without a JWKS of its own, a
    gateway that accepts the demo keys (sandbox mode, no config file) trusts the sandbox's
    (its JWKS, issuer and audience); a configured gateway pointed at a sandbox never does."""
    auth = settings.auth
    if auth.jwks_url and auth.jwks_file:
        raise SettingsError("auth.jwks_url and auth.jwks_file: give one of them")
    if not 0 <= auth.leeway_s <= MAX_LEEWAY_S:
        raise SettingsError("auth.leeway_s must be in 0..300 seconds")
    if auth.jwks_refetch_s <= 0 or auth.jwks_ttl_s <= 0:
        raise SettingsError("auth.jwks_refetch_s and auth.jwks_ttl_s must be positive")
    if auth.jwks_url or auth.jwks_file:
        if not (auth.issuer and auth.audience):
            raise SettingsError(
                "auth.issuer and auth.audience are required with a JWKS"
            )
        return AgentTokens(_keys(auth), auth.issuer, auth.audience, auth.leeway_s)
    if auth.issuer or auth.audience:
        raise SettingsError(
            "auth.issuer and auth.audience need a JWKS (jwks_url, jwks_file)"
        )
    if not settings.sandbox.demo_keys:  # the rule that admits the demo keys (app.py)
        return None
    url = settings.sandbox.url.rstrip("/") + SANDBOX_JWKS_PATH
    keys = JwksClient(url, auth.jwks_refetch_s, auth.jwks_ttl_s)
    return AgentTokens(keys, SANDBOX_ISSUER, SANDBOX_AUDIENCE, auth.leeway_s)


def _keys(auth: AuthSettings) -> SigningKeys:
    if auth.jwks_file:
        return JwksFile(Path(auth.jwks_file), auth.jwks_refetch_s)
    parts = urlsplit(auth.jwks_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts)):
        raise SettingsError(
            "auth.jwks_url must be https (http for a loopback host only)"
        )
    return JwksClient(auth.jwks_url, auth.jwks_refetch_s, auth.jwks_ttl_s)


def _loopback(parts: SplitResult) -> bool:
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
