"""Each limit at its exact boundary (LimitSettings, the purpose's length, Python's 4300 digits
of a JSON integer): the last value accepted, the first refused, and a refusal that makes no
upstream call."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from citizen_graph.settings import LimitSettings
from tests.conftest import SOCIAL, GatewayClient, upstream_calls

LIMITS = LimitSettings()


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def deep(depth: int) -> str:
    """`__type` at depth 0 (a root leaf is depth 0, as Strawberry counts), `name` at `depth`."""
    inner = "name"
    for _ in range(depth - 3):
        inner = f"ofType {{ {inner} }}"
    return f'{{ __type(name: "Citizen") {{ fields {{ type {{ {inner} }} }} }} }}'


def aliased(aliases: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(aliases)) + " }"


def tokens(count: int) -> str:
    """A document of exactly `count` tokens as the parser counts them (comments included)."""
    return "{ __typename }" + "\n#" * (count - 3)


def fiscal_keys(count: int) -> list[dict[str, str]]:
    return [{"fiscalNumber": f"3{i:012d}"} for i in range(count)]


CITIZEN_IDS = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { id } }"


# The data schema is 4 deep at most: the depth a document can reach is introspection's,
# bounded apart (the standard introspection query is 11 deep).
@pytest.mark.parametrize(("depth", "refused"), [(15, False), (16, True)])
def test_introspection_depth_15_is_accepted_and_16_refused(
    gateway: GatewayClient, depth: int, refused: bool
) -> None:
    assert LIMITS.max_introspection_depth == 15
    result = gateway.query(deep(depth))
    assert codes(result) == (["QUERY_TOO_COMPLEX"] if refused else [])
    assert (result.get("data") is None) is refused


@pytest.mark.parametrize(("aliases", "refused"), [(15, False), (16, True)])
def test_15_aliases_are_accepted_and_16_refused(
    gateway: GatewayClient, aliases: int, refused: bool
) -> None:
    assert LIMITS.max_aliases == 15
    result = gateway.query(aliased(aliases))
    assert codes(result) == (["QUERY_TOO_COMPLEX"] if refused else [])
    if not refused:
        assert len(result["data"]) == aliases


@pytest.mark.parametrize(("count", "refused"), [(2000, False), (2001, True)])
def test_a_query_over_2000_tokens_is_refused(
    gateway: GatewayClient, count: int, refused: bool
) -> None:
    assert LIMITS.max_tokens == 2000
    result = gateway.query(tokens(count))
    assert codes(result) == (["QUERY_TOO_COMPLEX"] if refused else [])
    if not refused:
        assert result["data"] == {"__typename": "Query"}


def test_exactly_100_citizens_are_accepted(gateway: GatewayClient) -> None:
    assert LIMITS.max_keys == 100
    result = gateway.query(CITIZEN_IDS, {"k": fiscal_keys(100)})
    assert "errors" not in result
    assert len(result["data"]["citizens"]) == 100


def test_101_citizens_are_refused_without_an_upstream_call(
    gateway: GatewayClient, sandbox: httpx.Client
) -> None:
    query = "query($k: [CitizenKeyInput!]!) { citizens(keys: $k) { identity { sex } } }"
    result = gateway.query(query, {"k": fiscal_keys(101)})
    assert (result["data"], codes(result)) == (None, ["BAD_USER_INPUT"])
    assert upstream_calls(sandbox, "dgfip") == 0


def purpose(chars: int) -> str:
    """French text of exactly `chars` characters (more bytes: "à" is two in UTF-8)."""
    text = ("Aide sociale à l'enfance, " * 10)[: chars - 1] + "."
    assert len(text) == chars
    return text


@pytest.mark.parametrize(("chars", "status"), [(200, 200), (201, 400)])
def test_a_purpose_over_200_characters_is_refused(
    gateway: GatewayClient, chars: int, status: int
) -> None:
    text = purpose(chars)
    response = gateway.http.post(
        "/graphql",
        json={"query": "{ viewer { purpose } }"},
        headers=[
            (b"Authorization", f"Bearer {SOCIAL}".encode()),
            (b"X-Purpose", text.encode()),  # raw UTF-8 bytes on the wire
        ],
    )
    assert response.status_code == status
    if status == 200:
        assert response.json()["data"]["viewer"]["purpose"] == text
    else:
        assert codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(("digits", "refused"), [(4300, False), (4301, True)])
def test_a_json_integer_over_4300_digits_is_refused_in_a_body_or_a_url(
    gateway: GatewayClient, caplog: pytest.LogCaptureFixture, digits: int, refused: bool
) -> None:
    """Python reads no longer integer (`sys.int_info`): a 400, never a traceback."""
    variables = '{"y": 1' + "0" * (digits - 1) + "}"
    headers = {"Authorization": f"Bearer {SOCIAL}", "X-Purpose": "Tests"}
    query = "query($y: Int) { viewer { role } }"
    body = '{"query": "' + query + '", "variables": ' + variables + "}"
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    with caplog.at_level(logging.INFO):
        posted = gateway.http.post(
            "/graphql",
            content=body,
            headers=headers | {"Content-Type": "application/json"},
        )
        got = gateway.http.get(
            "/graphql",
            params={"extensions": json.dumps(unknown), "variables": variables},
            headers=headers,
        )
    if refused:
        assert (posted.status_code, got.status_code) == (400, 400)
        assert codes(posted.json()) == codes(got.json()) == ["BAD_USER_INPUT"]
    else:  # read, then refused as an Int, or as a hash never registered
        assert (posted.status_code, got.status_code) == (200, 200)
        assert codes(posted.json()) == ["BAD_USER_INPUT"]
        assert codes(got.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
