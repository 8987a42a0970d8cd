"""A test identity provider for agents (ProConnect-style): its JWKS at `GET
/_sandbox/jwks.json`, and agents' tokens minted at `POST /_sandbox/agent-tokens`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from citizen_graph.sandbox.admin import admin_error

# Its keys (one RS256, one ES256) are made when the sandbox starts and never leave it; a
# gateway in sandbox mode trusts them, with this issuer and audience.

ISSUER = "https://sandbox.citizen-graph.invalid"
AUDIENCE = "citizen-graph"
NAMESPACE = "https://citizen-graph.fr/claims"  # the gateway's claims (its README)
MAX_TTL_S = 86_400
FIELDS = {"client", "sub", "roles", "ttl_s", "siret", "default_role", "alg"}
USAGE = (
    'Expected {"client": id, "sub": agent, "roles": [...], "ttl_s": seconds}, '
    'optionally "siret", "default_role" and "alg" (RS256, ES256).'
)
SIRET = re.compile(r"[0-9]{14}")


class AgentIdentityProvider:
    """Signs agents' tokens with its own keys; publishes the public halves."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, Any]] = {  # alg → (kid, private key)
            "RS256": (
                "sandbox-rs256-" + secrets.token_hex(4),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ),
            "ES256": (
                "sandbox-es256-" + secrets.token_hex(4),
                ec.generate_private_key(ec.SECP256R1()),
            ),
        }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sandbox/jwks.json", self.jwks),
            Route("/_sandbox/agent-tokens", self.mint, methods=["POST"]),
        ]

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self._public(alg) for alg in self._keys]})

    async def mint(self, request: Request) -> Response:
        """`{"client", "sub", "roles", "ttl_s"}` (and optionally `siret`, `default_role`,
        `alg`) → `{"token": JWT}`; a negative `ttl_s` mints it expired. The client is not
        checked here: the gateway refuses one it does not know."""
        try:
            body = await request.json()
        except ValueError:
            return admin_error("Invalid JSON.")
        problem = _problem(body)
        if problem is not None:
            return admin_error(problem)
        return JSONResponse({"token": self.token(body)})

    def token(self, body: dict[str, Any]) -> str:
        now = int(time.time())
        ours = {"client": body["client"], "roles": body["roles"]}
        ours |= {k: body[k] for k in ("siret", "default_role") if k in body}
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": body["sub"],
            "iat": now,
            "nbf": now,
            "exp": now + int(body.get("ttl_s", 600)),
            "jti": secrets.token_hex(8),
            NAMESPACE: ours,
        }
        kid, key = self._keys[body.get("alg", "RS256")]
        return jwt.encode(
            claims, key, algorithm=body.get("alg", "RS256"), headers={"kid": kid}
        )

    def _public(self, alg: str) -> dict[str, Any]:
        kid, key = self._keys[alg]
        algorithm = jwt.get_algorithm_by_name(alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
        return jwk | {"kid": kid, "alg": alg, "use": "sig"}


def _problem(body: Any) -> str | None:
    """What is wrong with a minting request, if anything."""
    if not isinstance(body, dict) or set(body) - FIELDS:
        return USAGE
    for name in ("client", "sub"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} must be a non-empty string."
    roles = body.get("roles")
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) for r in roles)
    ):
        return "roles must be a non-empty list of role names."
    ttl = body.get("ttl_s", 600)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or abs(ttl) > MAX_TTL_S:
        return "ttl_s must be an integer number of seconds (negative: expired)."
    if "siret" in body and not (
        isinstance(body["siret"], str) and SIRET.fullmatch(body["siret"])
    ):
        return "siret must be 14 digits."
    if "default_role" in body and body["default_role"] not in roles:
        return "default_role must be one of roles."
    if body.get("alg", "RS256") not in ("RS256", "ES256"):
        return "alg must be RS256 or ES256."
    return None
