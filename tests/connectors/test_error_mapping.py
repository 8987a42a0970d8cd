"""Upstream answers → the project's errors (httpx mocked at the transport: no sockets here)."""

from collections.abc import Callable

import httpx
import pytest

from citizen_graph.connectors._client import ClientConfig, UpstreamClient
from citizen_graph.connectors.api_particulier import ApiParticulierConnector
from citizen_graph.connectors.ban import BanConnector
from citizen_graph.connectors.dgfip import DgfipConnector
from citizen_graph.errors import (
    BadUserInput,
    CitizenGraphError,
    NotFound,
    UpstreamUnavailable,
)
from citizen_graph.records import PivotIdentity
from tests.connectors.conftest import SCRIPTED

pytestmark = pytest.mark.anyio

SPI = "3000000000011"
IDENTITY = PivotIdentity(
    "FICTIF", ("ALICE",), __import__("datetime").date(1984, 3, 14), "F"
)


def client(
    source: str, handler: Callable[[httpx.Request], httpx.Response]
) -> UpstreamClient:
    config = ClientConfig(source, "https://upstream.test", 1.0, 1.0, 5)

    def answering(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):  # DGFiP's OAuth flow
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return handler(request)

    return UpstreamClient(config, transport=httpx.MockTransport(answering))


def answer(
    status: int, json: object = None
) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=json)


def assert_leaks_nothing(error: Exception) -> None:
    text = str(error) + repr(getattr(error, "extensions", ""))
    assert SPI not in text
    assert "upstream.test" not in text
    assert "http" not in text


@pytest.mark.parametrize(
    ("status", "codeapp", "expected"),
    [
        (410, "4102", NotFound),
        (410, "4101", NotFound),
        (400, "4001", BadUserInput),
        (403, "4031", UpstreamUnavailable),
        (500, None, UpstreamUnavailable),
        (503, None, UpstreamUnavailable),
    ],
)
async def test_dgfip_statuses_map_to_contract_errors(
    status: int, codeapp: str | None, expected: type[CitizenGraphError]
) -> None:
    dgfip = DgfipConnector(
        client("dgfip", answer(status, {"codeapp": codeapp})), "test"
    )
    with pytest.raises(expected) as caught:
        await dgfip.tax_history(SPI, SCRIPTED)
    assert_leaks_nothing(caught.value)
    if isinstance(caught.value, UpstreamUnavailable | NotFound):
        assert caught.value.extensions == {"code": expected.code, "source": "dgfip"}


async def test_dgfip_unreadable_body_is_upstream_unavailable() -> None:
    handler = lambda request: httpx.Response(200, text="<html>oops</html>")  # noqa: E731
    dgfip = DgfipConnector(client("dgfip", handler), "test")
    with pytest.raises(UpstreamUnavailable):
        await dgfip.tax_history(SPI, SCRIPTED)


async def test_dgfip_wrong_shape_is_upstream_unavailable() -> None:
    dgfip = DgfipConnector(client("dgfip", answer(200, [{"rfr": "lots"}])), "test")
    with pytest.raises(UpstreamUnavailable):
        await dgfip.tax_history(SPI, SCRIPTED)


async def test_timeout_is_upstream_unavailable_without_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out reading https://upstream.test/spi/" + SPI)

    dgfip = DgfipConnector(client("dgfip", handler), "test")
    with pytest.raises(UpstreamUnavailable) as caught:
        await dgfip.tax_history(SPI, SCRIPTED)
    assert_leaks_nothing(caught.value)


async def test_connection_error_is_retried_once_then_unavailable() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused to https://upstream.test/" + SPI)

    dgfip = DgfipConnector(client("dgfip", handler), "test")
    with pytest.raises(UpstreamUnavailable) as caught:
        await dgfip.tax_history(SPI, SCRIPTED)
    assert len(attempts) == 2
    assert_leaks_nothing(caught.value)


async def test_a_503_then_200_is_served_by_the_retry() -> None:
    answers = [
        httpx.Response(503),
        httpx.Response(200, json={"type": "FeatureCollection", "features": []}),
    ]
    ban = BanConnector(client("ban", lambda request: answers.pop(0)))
    assert await ban.geocode(["12 R DES EXEMPLES 35000 RENNES"]) == [None]
    assert answers == []


async def test_ban_answer_of_the_wrong_shape_is_upstream_unavailable() -> None:
    ban = BanConnector(client("ban", answer(200, [])))
    with pytest.raises(UpstreamUnavailable):
        await ban.geocode(["12 R DES EXEMPLES 35000 RENNES"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, NotFound),
        (422, BadUserInput),
        (409, UpstreamUnavailable),
        (429, UpstreamUnavailable),
        (502, UpstreamUnavailable),
        (504, UpstreamUnavailable),
        (401, UpstreamUnavailable),
    ],
)
async def test_api_particulier_statuses_map_to_contract_errors(
    status: int, expected: type[Exception]
) -> None:
    body = {"errors": [{"code": "00366", "title": "x", "detail": "x", "source": None}]}
    connector = ApiParticulierConnector(client("api_particulier", answer(status, body)))
    with pytest.raises(expected) as caught:
        await connector.family_quotient(IDENTITY, SCRIPTED)
    assert_leaks_nothing(caught.value)
    assert "FICTIF" not in str(caught.value)


async def test_ban_error_names_the_ban() -> None:
    ban = BanConnector(client("ban", answer(400, {"code": 400})))
    with pytest.raises(UpstreamUnavailable) as caught:
        await ban.geocode(["a", "b"])
    assert caught.value.extensions["source"] == "ban"


async def test_the_gateway_request_id_is_forwarded_to_the_upstream() -> None:
    from citizen_graph import request_scope

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"type": "FeatureCollection", "features": []})

    ban = BanConnector(client("ban", handler))
    with request_scope.bound_request_id("req-77"), request_scope.open_scope(5.0):
        await ban.geocode(["12 R DES EXEMPLES 35000 RENNES"])
    assert seen[0].headers["x-request-id"] == "req-77"
