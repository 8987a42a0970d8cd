"""CORS: refused by default (API keys are server-side secrets, and API Particulier forbids
calls from browser front-ends); an allow-list of exact origins when configured."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import GatewayClient

PORTAL = "https://portail-familles.example.fr"
PREFLIGHT = {
    "Origin": PORTAL,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-role",
}


def test_no_origin_is_allowed_by_default(gateway: GatewayClient) -> None:
    preflight = gateway.http.options("/graphql", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    answer = gateway.post("{ viewer { role } }", headers={"Origin": PORTAL})
    assert "access-control-allow-origin" not in answer.headers


def test_an_allowed_origin_gets_its_preflight_and_answers(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    gateway = start_gateway(server={"cors_origins": f"{PORTAL}, https://other.example"})
    preflight = gateway.http.options("/graphql", headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    assert "x-role" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    answer = gateway.post("{ viewer { role } }", headers={"Origin": PORTAL})
    assert answer.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()


def test_an_origin_outside_the_list_is_refused(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    gateway = start_gateway(server={"cors_origins": PORTAL})
    evil = PREFLIGHT | {"Origin": "https://evil.example"}
    preflight = gateway.http.options("/graphql", headers=evil)
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    [error] = preflight.json()["errors"]  # the contract's body, as every refusal
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "Disallowed CORS origin."
    assert preflight.headers["x-request-id"]


def test_a_preflight_asking_for_tracestate_is_refused(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    gateway = start_gateway(server={"cors_origins": PORTAL})
    asking = PREFLIGHT | {"Access-Control-Request-Headers": "traceparent, tracestate"}
    preflight = gateway.http.options("/graphql", headers=asking)
    assert preflight.status_code == 400
    assert preflight.json()["errors"][0]["message"] == "Disallowed CORS headers."
    tracing = PREFLIGHT | {"Access-Control-Request-Headers": "traceparent"}
    assert gateway.http.options("/graphql", headers=tracing).status_code == 200
