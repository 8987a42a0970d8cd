"""Agents' JWTs: RS256/ES256 against a JWKS, the algorithm pinned, times, issuer, audience and
the claim namespace checked, the JWKS fetched again for an unknown `kid` (at most once per
`jwks_refetch_s`), and no refusal ever echoing the token or a claim's value
(reliability.md §7 B, cases 14-17)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from citizen_graph.auth.agents import (
    NAMESPACE,
    AgentTokens,
    JwksClient,
    JwksFile,
    agent_tokens,
)
from citizen_graph.auth.clients import Caller, Client
from citizen_graph.auth.credentials import Credentials, key_hash
from citizen_graph.auth.habilitations import habilitation
from citizen_graph.auth.policy import load_policy
from citizen_graph.edge.authentication import Authentication
from citizen_graph.errors import BadUserInput, ForbiddenRole, Unauthenticated
from citizen_graph.schema import build_schema
from citizen_graph.serving import ThreadedServer
from citizen_graph.settings import (
    AuthSettings,
    SandboxSettings,
    Settings,
    SettingsError,
)

ISSUER = "https://proconnect.example.test"
AUDIENCE = "citizen-graph-test"
CLIENT = "mairie-exemple-cantine"
SIRET = "21350238800019"
SUB = "agent-7f3c2a91-d35e"
ROLES = ("family_portal", "address_check")
KEY = "an-api-key-of-the-canteen"
LEEWAY_S = 30.0


@dataclasses.dataclass
class Signer:
    alg: str
    kid: str
    key: Any

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid} | header
        return jwt.encode(claims, self.key, algorithm=self.alg, headers=headers)

    def jwk(self) -> dict[str, Any]:
        public = json.loads(
            jwt.get_algorithm_by_name(self.alg).to_jwk(self.key.public_key())
        )
        return dict(public) | {"kid": self.kid, "alg": self.alg, "use": "sig"}


def rsa_signer(kid: str = "rsa-1") -> Signer:
    return Signer(
        "RS256", kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )


@pytest.fixture(scope="module")
def rsa_key() -> Signer:
    return rsa_signer()


@pytest.fixture(scope="module")
def ec_key() -> Signer:
    return Signer("ES256", "ec-1", ec.generate_private_key(ec.SECP256R1()))


class JwksServer:
    """A JWKS endpoint on loopback that counts its fetches; `keys` can be rotated."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.down = False
        app = Starlette(routes=[Route("/jwks.json", self.jwks)])
        self.server = ThreadedServer(app, lifespan="off").start()
        self.url = self.server.url + "/jwks.json"

    async def jwks(self, request: Request) -> Response:
        self.fetches += 1
        if self.down:
            return Response("down", status_code=503)
        return JSONResponse({"keys": self.keys})


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.server.stop()


@pytest.fixture
def jwks(jwks_server: JwksServer, rsa_key: Signer, ec_key: Signer) -> JwksServer:
    jwks_server.keys = [rsa_key.jwk(), ec_key.jwk()]
    jwks_server.fetches = 0
    jwks_server.down = False
    return jwks_server


def client(client_id: str = CLIENT, roles: tuple[str, ...] = ROLES) -> Client:
    served = habilitation(SIRET, client_id + "-2026", "Cantine", roles)
    return Client(client_id, key_hash(KEY), SIRET, roles, habilitations=(served,))


def credentials(
    url: str, refetch_s: float = 30.0, leeway_s: float = LEEWAY_S
) -> Credentials:
    keys = JwksClient(url, refetch_s=refetch_s, ttl_s=300.0)
    return Credentials([client()], AgentTokens(keys, ISSUER, AUDIENCE, leeway_s))


def claims(ours: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """Valid claims with `changes` (None: the claim removed)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": SUB,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        NAMESPACE: {"client": CLIENT, "siret": SIRET, "roles": list(ROLES)}
        | (ours or {}),
    }
    merged = base | changes
    return {name: value for name, value in merged.items() if value is not None}


def authenticate(creds: Credentials, token: str, **headers: str) -> Caller:
    return creds.authenticate(Headers({"authorization": f"Bearer {token}"} | headers))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(
    header: dict[str, Any], payload: dict[str, Any], secret: bytes = b""
) -> str:
    """A token built by hand: `secret` empty gives no signature (alg none), else HS256."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    )
    signature = b""
    if secret:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def public_pem(signer: Signer) -> bytes:
    pem: bytes = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def test_an_agents_rs256_token_gives_its_client_the_default_role_and_the_agent(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    caller = authenticate(credentials(jwks.url), rsa_key.sign(claims()))
    assert (caller.client_id, caller.recipient, caller.agent) == (CLIENT, SIRET, SUB)
    assert (caller.role, caller.allowed_roles) == ("family_portal", ROLES)


def test_an_es256_token_is_accepted_too(jwks: JwksServer, ec_key: Signer) -> None:
    assert authenticate(credentials(jwks.url), ec_key.sign(claims())).agent == SUB


def test_x_role_chooses_among_the_tokens_roles_and_default_role_is_the_default(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    creds = credentials(jwks.url)
    token = rsa_key.sign(claims({"roles": ["family_portal"]}))
    assert (
        authenticate(creds, token, **{"x-role": "family_portal"}).role
        == "family_portal"
    )
    with pytest.raises(ForbiddenRole):  # a role of the client, not of the token
        authenticate(creds, token, **{"x-role": "address_check"})
    chosen = rsa_key.sign(claims({"default_role": "address_check"}))
    assert authenticate(creds, chosen).role == "address_check"


def test_two_role_headers_are_refused_for_an_agent_too(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    token = rsa_key.sign(claims()).encode()
    raw = [(b"authorization", b"Bearer " + token)]
    raw += [(b"x-role", b"family_portal"), (b"x-role", b"address_check")]
    with pytest.raises(BadUserInput, match="one X-Role"):
        credentials(jwks.url).authenticate(Headers(raw=raw))


def test_an_api_key_still_authenticates_beside_agents_tokens(jwks: JwksServer) -> None:
    caller = authenticate(credentials(jwks.url), KEY)
    assert (caller.client_id, caller.agent) == (CLIENT, None)
    assert jwks.fetches == 0


def tampered_claims(signer: Signer) -> str:
    """A signed token whose claims were changed afterwards (roles widened)."""
    head, body, signature = signer.sign(claims()).split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged[NAMESPACE]["roles"] = ["social_services"]
    return f"{head}.{b64(json.dumps(forged).encode())}.{signature}"


def tampered_signature(signer: Signer) -> str:
    head, body, signature = signer.sign(claims()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{b64(bytes(raw))}"


def hs256_with_public_key(signer: Signer) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": signer.kid}
    return unsigned(header, claims(), public_pem(signer))


def in_s(seconds: int) -> int:
    return int(time.time()) + seconds


Case = Callable[[Signer, Signer], str]  # (the RSA key, the EC key) → a token
FAILURES: dict[str, tuple[Case, str]] = {  # each refused token, the check it must name
    "alg none": (
        lambda r, e: unsigned({"alg": "none", "kid": r.kid}, claims()),
        "algorithm",
    ),
    "HS256 signed with the public key": (
        lambda r, e: hs256_with_public_key(r),
        "algorithm",
    ),
    "RS512, outside the allow-list": (
        lambda r, e: jwt.encode(
            claims(), r.key, algorithm="RS512", headers={"kid": r.kid}
        ),
        "algorithm",
    ),
    "RS256 naming the ES256 key": (
        lambda r, e: r.sign(claims(), kid=e.kid),
        "algorithm",
    ),
    "expired beyond the leeway": (
        lambda r, e: r.sign(claims(exp=in_s(-120))),
        "expired",
    ),
    "nbf in the future": (lambda r, e: r.sign(claims(nbf=in_s(120))), "not valid yet"),
    "iat in the future": (lambda r, e: r.sign(claims(iat=in_s(120))), "not valid yet"),
    "wrong issuer": (
        lambda r, e: r.sign(claims(iss="https://idp.example.test")),
        "issuer",
    ),
    "wrong audience": (lambda r, e: r.sign(claims(aud="another-service")), "audience"),
    "no audience": (lambda r, e: r.sign(claims(aud=None)), "aud claim"),
    "no expiry": (lambda r, e: r.sign(claims(exp=None)), "exp claim"),
    "no subject": (lambda r, e: r.sign(claims(sub=None)), "sub claim"),
    "a subject with spaces": (lambda r, e: r.sign(claims(sub="Jean Agent")), "subject"),
    "unknown kid": (lambda r, e: r.sign(claims(), kid="rsa-unknown"), "signing key"),
    "no kid": (lambda r, e: jwt.encode(claims(), r.key, algorithm="RS256"), "kid"),
    "tampered claims": (lambda r, e: tampered_claims(r), "signature"),
    "tampered signature": (lambda r, e: tampered_signature(r), "signature"),
    "an unknown key under a known kid": (
        lambda r, e: rsa_signer(r.kid).sign(claims()),
        "signature",
    ),
    "garbage": (lambda r, e: "eyJub3QganNvbg.Z2FyYmFnZQ.c2lnbmF0dXJl", "well-formed"),
    "no claim namespace": (lambda r, e: r.sign(claims(**{NAMESPACE: None})), NAMESPACE),
    "a namespace naming no client": (
        lambda r, e: r.sign(claims({"client": ""})),
        "no client",
    ),
    "roles not a list": (
        lambda r, e: r.sign(claims({"roles": "family_portal"})),
        "roles",
    ),
    "roles outside the client's": (
        lambda r, e: r.sign(claims({"roles": ["family_portal", "social_services"]})),
        "role its client does not have",
    ),
    "a default role outside its roles": (
        lambda r, e: r.sign(claims({"default_role": "social_services"})),
        "default_role",
    ),
    "unknown client": (
        lambda r, e: r.sign(claims({"client": "mairie-inconnue"})),
        "not a client",
    ),
    "another SIRET": (
        lambda r, e: r.sign(claims({"siret": "26350238800011"})),
        "SIRET",
    ),
    "a malformed SIRET": (lambda r, e: r.sign(claims({"siret": "2135"})), "14-digit"),
}
ECHOED = [SUB, CLIENT, SIRET, ISSUER, AUDIENCE, "rsa-1", "ec-1", "rsa-unknown"]
ECHOED += ["mairie-inconnue", "social_services", "family_portal", "26350238800011"]
ECHOED += ["Jean Agent", "another-service", "https://idp.example.test"]


@pytest.mark.parametrize("case", FAILURES)
def test_each_failing_check_is_refused_by_name_and_echoes_nothing(
    jwks: JwksServer, rsa_key: Signer, ec_key: Signer, case: str
) -> None:
    make, check = FAILURES[case]
    token = make(rsa_key, ec_key)
    with pytest.raises(Unauthenticated) as refused:
        authenticate(credentials(jwks.url), token)
    message = refused.value.message
    assert check in message
    echoed = [token, *(part for part in token.split(".") if part), *ECHOED]
    assert not any(value in message for value in echoed), message


@pytest.mark.parametrize(
    ("times", "check"),
    [
        ({"exp": -10}, "expired"),
        ({"nbf": 10}, "not valid yet"),
        ({"iat": 10}, "not valid"),
    ],
)
def test_times_within_the_leeway_are_accepted(
    jwks: JwksServer, rsa_key: Signer, times: dict[str, int], check: str
) -> None:
    moved: dict[str, Any] = {name: in_s(s) for name, s in times.items()}
    token = rsa_key.sign(claims(**moved))
    assert authenticate(credentials(jwks.url), token).agent == SUB
    with pytest.raises(Unauthenticated, match=check):
        authenticate(credentials(jwks.url, leeway_s=0), token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "9999999999"),  # PyJWT alone would apply int() and accept it
        ("exp", True),  # a bool is no number
        ("exp", float("inf")),  # Python's JSON reads 1e400 so
        ("nbf", "0"),
        ("nbf", False),
        ("iat", "x"),  # PyJWT alone: "The token is invalid."
        ("iat", True),
    ],
)
def test_times_that_are_not_json_numbers_are_refused_by_name(
    jwks: JwksServer, rsa_key: Signer, claim: str, value: Any
) -> None:
    token = rsa_key.sign(claims(**{claim: value}))
    with pytest.raises(Unauthenticated) as refused:
        authenticate(credentials(jwks.url), token)
    expected = f"The token's {claim} claim is not a number (a NumericDate)."
    assert refused.value.message == expected  # names the claim, never its value


def test_times_that_are_fractional_numbers_are_accepted(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    now = time.time()
    token = rsa_key.sign(claims(iat=now, nbf=now, exp=now + 600.5))
    assert authenticate(credentials(jwks.url), token).agent == SUB


def test_an_unknown_kid_is_accepted_once_the_rotated_jwks_is_fetched(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    rotated = rsa_signer("rsa-2")
    token = rotated.sign(claims())
    creds = credentials(jwks.url, refetch_s=0.5)
    authenticate(creds, rsa_key.sign(claims()))
    jwks.keys = [rotated.jwk()]
    with pytest.raises(Unauthenticated, match="signing key"):  # fetched just now
        authenticate(creds, token)
    time.sleep(0.55)
    assert authenticate(creds, token).agent == SUB
    assert jwks.fetches == 2
    authenticate(creds, token)  # cached
    assert jwks.fetches == 2


def test_jwks_fetches_are_bounded_however_many_unknown_kids_are_sent(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    creds = credentials(jwks.url, refetch_s=1.0)
    for n in range(50):
        with pytest.raises(Unauthenticated):
            authenticate(creds, rsa_key.sign(claims(), kid=f"probe-{n}"))
    assert jwks.fetches == 1
    time.sleep(1.05)
    for n in range(50):
        with pytest.raises(Unauthenticated):
            authenticate(creds, rsa_key.sign(claims(), kid=f"again-{n}"))
    assert jwks.fetches == 2
    assert authenticate(creds, rsa_key.sign(claims())).agent == SUB  # still cached


def test_a_jwks_that_is_down_is_tried_once_per_period_and_its_last_keys_serve(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    keys = JwksClient(jwks.url, refetch_s=0.3, ttl_s=0.2)
    creds = Credentials([client()], AgentTokens(keys, ISSUER, AUDIENCE, LEEWAY_S))
    authenticate(creds, rsa_key.sign(claims()))
    jwks.down = True
    time.sleep(0.35)  # the cached set has expired
    for _ in range(20):
        assert authenticate(creds, rsa_key.sign(claims())).agent == SUB
    assert jwks.fetches == 2


def test_the_first_jwks_fetch_failing_refuses_without_hammering(
    jwks: JwksServer,
) -> None:
    jwks.down = True
    creds = credentials(jwks.url, refetch_s=60)
    for n in range(20):
        with pytest.raises(Unauthenticated, match="cannot be fetched"):
            authenticate(creds, rsa_signer(f"k{n}").sign(claims()))
    assert jwks.fetches == 1


def test_identifying_a_refused_request_never_fetches_the_jwks(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    creds = credentials(jwks.url)
    headers = Headers({"authorization": f"Bearer {rsa_key.sign(claims())}"})
    assert creds.may_fetch(headers)
    assert creds.identify(headers) is None
    assert jwks.fetches == 0
    creds.authenticate(headers)
    assert not creds.may_fetch(headers)
    identified = creds.identify(headers)
    assert identified is not None
    assert (identified.client.client_id, identified.agent) == (CLIENT, SUB)


def test_identify_names_the_agent_of_a_valid_token_only(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    """The audit of a refusal carries a `sub` only once its token is verified."""
    creds = credentials(jwks.url)
    authenticate(creds, rsa_key.sign(claims()))  # the keys at hand
    for refused in (claims(exp=in_s(-120)), claims(aud="another-service")):
        headers = Headers({"authorization": f"Bearer {rsa_key.sign(refused)}"})
        assert creds.identify(headers) is None
    forged = Headers({"authorization": f"Bearer {tampered_claims(rsa_key)}"})
    assert creds.identify(forged) is None


class LoopWatchingJwks(JwksClient):
    """Records, for each fetch, whether it ran where an event loop runs."""

    def __init__(self, url: str) -> None:
        super().__init__(url, refetch_s=0.01, ttl_s=0.2)
        self.on_loop: list[bool] = []

    def fetch_data(self) -> Any:
        try:
            asyncio.get_running_loop()
            self.on_loop.append(True)
        except RuntimeError:
            self.on_loop.append(False)
        return super().fetch_data()


def test_every_jwks_fetch_runs_off_the_event_loop_the_first_and_after_the_ttl(
    jwks: JwksServer, rsa_key: Signer
) -> None:
    """A fetch blocks (urllib): run on the loop it would hold every request meanwhile."""
    keys = LoopWatchingJwks(jwks.url)
    creds = Credentials([client()], AgentTokens(keys, ISSUER, AUDIENCE, LEEWAY_S))
    callers: list[Caller] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        callers.append(scope["citizen_graph.caller"])

    edge = Authentication(inner, creds, load_policy(build_schema()._schema))
    token = rsa_key.sign(claims()).encode()
    headers = [(b"authorization", b"Bearer " + token), (b"x-purpose", b"Cantine")]
    scope: Scope = {"type": "http", "headers": headers}

    async def twice() -> None:
        await edge(scope, receive_nothing, send_nothing)
        await edge(scope, receive_nothing, send_nothing)  # the keys at hand
        await asyncio.sleep(0.3)  # past the JWKS's TTL
        await edge(scope, receive_nothing, send_nothing)

    asyncio.run(twice())
    assert [c.agent for c in callers] == [SUB] * 3
    assert keys.on_loop == [False, False]
    assert jwks.fetches == 2


async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}


async def send_nothing(message: Message) -> None:
    pass


def test_a_jwks_file_is_read_again_for_an_unknown_kid(
    tmp_path: Path, rsa_key: Signer
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_key.jwk()]}))
    keys = JwksFile(path, refetch_s=0.2)
    creds = Credentials([client()], AgentTokens(keys, ISSUER, AUDIENCE, LEEWAY_S))
    assert authenticate(creds, rsa_key.sign(claims())).agent == SUB
    rotated = rsa_signer("rsa-2")
    path.write_text(json.dumps({"keys": [rotated.jwk()]}))
    time.sleep(0.25)
    assert authenticate(creds, rotated.sign(claims())).agent == SUB


def test_a_jwt_is_refused_by_a_gateway_without_a_jwks(rsa_key: Signer) -> None:
    with pytest.raises(Unauthenticated, match="no agents' tokens"):
        authenticate(Credentials([client()]), rsa_key.sign(claims()))


def settings(**auth: Any) -> Settings:
    return Settings(auth=AuthSettings(**auth))


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"jwks_url": "https://idp.test/jwks", "jwks_file": "x"}, "give one"),
        ({"jwks_url": "https://idp.test/jwks"}, "auth.issuer and auth.audience"),
        ({"jwks_url": "http://idp.test/jwks", "issuer": "i", "audience": "a"}, "https"),
        ({"issuer": ISSUER}, "need a JWKS"),
        ({"leeway_s": 3600.0}, "leeway_s"),
        ({"jwks_file": "/nonexistent", "issuer": "i", "audience": "a"}, "jwks_file"),
    ],
)
def test_settings_for_agents_tokens_are_checked(
    auth: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        agent_tokens(settings(**auth))


def test_only_a_gateway_taking_the_demo_keys_trusts_the_sandboxs_jwks() -> None:
    assert agent_tokens(settings()) is None
    url = "http://127.0.0.1:1"
    # A config file's [sandbox] enabled = true: its own clients, so not the sandbox's.
    assert (
        agent_tokens(Settings(sandbox=SandboxSettings(enabled=True, url=url))) is None
    )
    demo = SandboxSettings(enabled=True, url=url, demo_keys=True)
    verifier = agent_tokens(Settings(sandbox=demo))
    assert verifier is not None
    assert isinstance(verifier.keys, JwksClient)
    assert verifier.keys.uri == "http://127.0.0.1:1/_sandbox/jwks.json"


@pytest.mark.parametrize("demo_keys", [True, False], ids=["demo", "configured"])
def test_a_jwks_of_its_own_is_trusted_beside_a_sandbox_either_way(
    demo_keys: bool,
) -> None:
    own = AuthSettings(
        jwks_url="https://idp.test/jwks", issuer=ISSUER, audience=AUDIENCE
    )
    sandbox = SandboxSettings(
        enabled=True, url="http://127.0.0.1:1", demo_keys=demo_keys
    )
    verifier = agent_tokens(Settings(sandbox=sandbox, auth=own))
    assert verifier is not None
    assert (verifier.issuer, verifier.audience) == (ISSUER, AUDIENCE)


def test_no_log_line_carries_the_token(
    jwks: JwksServer, rsa_key: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    jwks.down = True
    token = rsa_key.sign(claims())
    with caplog.at_level("DEBUG"), pytest.raises(Unauthenticated):
        authenticate(credentials(jwks.url), token)
    assert caplog.records  # the failed fetch is logged
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token.split(".")[1] not in logged
    assert SUB not in logged
