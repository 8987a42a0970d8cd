"""API Particulier v3 access tokens: HS256 JWTs with the staging token's claims
(`uid, jti, scopes, sub, iat, exp, version`), signed with this sandbox's own secret.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import jwt

from citizen_graph.sandbox.family_quotient import SCOPES as FAMILY_QUOTIENT_SCOPES
from citizen_graph.sandbox.particulier_errors import ApiError
from citizen_graph.sandbox.student_status import SCOPES as STUDENT_SCOPES

ALL_SCOPES = (*FAMILY_QUOTIENT_SCOPES, *STUDENT_SCOPES)
TOKEN_LIFETIME_S = 548 * 86_400  # 18 months, like the real tokens
_INVALID = ("00101", "Jeton non valide", "Le jeton d'accès est absent ou invalide.")
_EXPIRED = ("00103", "Jeton expiré", "Le jeton d'accès a expiré.")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)  # the JWT: a secret
    jti: str  # its public id


@dataclass(frozen=True, slots=True)
class Claims:
    jti: str  # the token's id: rate limits count per token
    scopes: frozenset[str]


class TokenAuthority:
    def __init__(self) -> None:
        self._secret = secrets.token_hex(32)

    def mint(
        self, scopes: Iterable[str], expires_in_s: int = TOKEN_LIFETIME_S
    ) -> IssuedToken:
        now, jti = int(time.time()), str(uuid.uuid4())
        claims = {
            "uid": str(uuid.uuid4()),
            "jti": jti,
            "scopes": list(scopes),
            "sub": "citizen-graph sandbox",
            "iat": now,
            "exp": now + expires_in_s,
            "version": "1.0",
        }
        return IssuedToken(jwt.encode(claims, self._secret, algorithm="HS256"), jti)

    def verify(self, authorization: str) -> Claims:
        """The claims of `Authorization: Bearer <JWT>`; 401 `00101`/`00103` otherwise."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, *_INVALID)
        try:
            claims = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iat", "jti", "scopes"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, *_EXPIRED) from None
        except jwt.InvalidTokenError:
            raise ApiError(401, *_INVALID) from None
        scopes = claims["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ApiError(401, *_INVALID)
        return Claims(str(claims["jti"]), frozenset(scopes))
