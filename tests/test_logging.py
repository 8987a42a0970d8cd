"""Log lines: JSON, each with the id of the request it was logged in, uvicorn's access line
without its query string, and never a citizen's identifier or name."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from citizen_graph import request_scope
from citizen_graph.telemetry import (
    UVICORN_LOGGERS,
    JsonFormatter,
    RequestIdFilter,
    configure_logging,
)
from tests.conftest import ALICE, ALICE_IDENTITY, FAMILY, SOCIAL, GatewayClient

Lines = Callable[[], list[dict[str, Any]]]

# A GET carrying a query and variables in its query string (refused, but logged).
GET_PARAMS = {
    "query": "query($f: String) { citizen(fiscalNumber: $f) { identity { birthName } } }",
    "variables": json.dumps({"f": ALICE}),
}
FAMILY_QUOTIENT = """query($i: PivotIdentityInput) {
  citizen(identity: $i) { familyQuotient { value } } }"""
# What no log line may ever carry: the citizen's fiscal number, names and birth date.
SECRETS = (ALICE, *ALICE_IDENTITY["givenNames"], "FICTIF", "LAMBERT", "1984-03-14")


@contextmanager
def json_logs() -> Iterator[Lines]:
    """Logging configured as `citizen-graph serve` configures it, into a buffer; every
    logger as it was afterwards. The test servers turn uvicorn's access log off
    (serving.py): it is turned back on here, as `serve` has it."""
    names = ("", "httpx", "httpcore", *UVICORN_LOGGERS)
    loggers = [logging.getLogger(name or None) for name in names]
    saved = [(lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for lg in loggers]
    stream = io.StringIO()
    configure_logging(stream=stream)
    logging.getLogger("uvicorn.access").setLevel(logging.NOTSET)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for logger, (handlers, filters, level, propagate) in zip(
            loggers, saved, strict=True
        ):
            logger.handlers[:], logger.filters[:] = handlers, filters
            logger.setLevel(level)
            logger.propagate = propagate


def assert_no_identifier(lines: list[dict[str, Any]]) -> None:
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in SECRETS:
        assert secret not in text, secret


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "uvicorn.access"]


def test_a_line_logged_inside_a_request_carries_its_request_id(
    gateway: GatewayClient,
) -> None:
    with json_logs() as lines:
        response = gateway.http.post(
            "/graphql",
            content=b'{"query": "{ viewer { role } }",',  # not JSON: refused, logged
            headers={
                "Authorization": f"Bearer {SOCIAL}",
                "X-Purpose": "Tests automatiques",
                "Content-Type": "application/json",
                "X-Request-Id": "logs-refused",
            },
        )
    assert response.status_code == 400
    refused = [line for line in lines() if line["logger"] == "citizen_graph.edge"]
    assert [line["request_id"] for line in refused] == ["logs-refused"]
    assert [line["request_id"] for line in access_lines(lines())] == ["logs-refused"]


def test_a_line_logged_before_the_requests_scope_opens_carries_its_request_id(
    gateway: GatewayClient,
) -> None:
    with json_logs() as lines:
        gateway.http.get("/healthz", headers={"X-Request-Id": "logs-health"})
    [health] = access_lines(lines())
    assert health["request_id"] == "logs-health"
    assert "GET /healthz" in health["message"]


def test_a_get_querys_access_line_has_no_query_string(gateway: GatewayClient) -> None:
    with json_logs() as lines:
        gateway.http.get(
            "/graphql",
            params=GET_PARAMS,
            headers={"Authorization": f"Bearer {SOCIAL}", "X-Request-Id": "logs-get"},
        )
    [line] = access_lines(lines())
    assert line["request_id"] == "logs-get"
    assert '"GET /graphql HTTP/1.1"' in line["message"]
    assert "?" not in line["message"]
    assert "fiscalNumber" not in line["message"]
    assert_no_identifier(lines())


def test_an_access_record_is_written_without_its_query_string() -> None:
    with json_logs() as lines:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',  # uvicorn's own call (protocols/http/*_impl.py)
            "127.0.0.1:50000",
            "GET",
            f"/graphql?query=%7Bcitizen(fiscalNumber%3A%22{ALICE}%22)%7D"
            f"&variables=%7B%22fiscalNumber%22%3A%22{ALICE}%22%7D",
            "1.1",
            405,
        )
    [line] = lines()
    assert line["message"] == '127.0.0.1:50000 - "GET /graphql HTTP/1.1" 405'
    assert line["level"] == "INFO"
    assert "request_id" not in line
    assert_no_identifier(lines())


def test_an_access_record_whose_path_carries_an_identifier_is_redacted() -> None:
    with json_logs() as lines:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/{ALICE}", "1.1", 404
        )
    assert lines()[0]["message"] == '127.0.0.1:50000 - "GET /[redacted] HTTP/1.1" 404'


def test_a_record_keeps_the_request_id_it_was_created_with() -> None:
    logger = logging.getLogger("citizen_graph.tests")
    with request_scope.bound_request_id("logs-later"):
        record = logger.makeRecord(logger.name, logging.INFO, "", 0, "x", (), None)
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))  # formatted outside the request
    assert line["request_id"] == "logs-later"


def test_a_line_logged_outside_any_request_has_no_request_id() -> None:
    with json_logs() as lines:
        logging.getLogger("citizen_graph.tests").warning("at start-up")
    [line] = lines()
    assert (line["message"], line["level"]) == ("at start-up", "WARNING")
    assert "request_id" not in line


def test_a_circuit_opening_and_closing_in_requests_log_their_ids_and_no_identifier(
    start_gateway: Callable[..., GatewayClient], sandbox: httpx.Client
) -> None:
    gateway = start_gateway(breaker={"failure_threshold": 3, "open_s": 0.2})
    failing = {"status": 503, "error_rate": 1.0}
    sandbox.put("/_sandbox/faults/api_particulier", json=failing).raise_for_status()
    with json_logs() as lines:
        for n in range(3):  # the family portal's own circuit opens (test_circuits.py)
            gateway.query(
                FAMILY_QUOTIENT,
                {"i": ALICE_IDENTITY},
                key=FAMILY,
                headers={"X-Request-Id": f"logs-failing-{n}"},
            )
        sandbox.delete("/_sandbox/faults").raise_for_status()
        time.sleep(0.25)  # past open_s: the next call is the probe
        gateway.query(
            FAMILY_QUOTIENT,
            {"i": ALICE_IDENTITY},
            key=FAMILY,
            headers={"X-Request-Id": "logs-probe"},
        )
    circuit = [line for line in lines() if line["logger"] == "citizen_graph.circuits"]
    opened, closed = circuit
    assert (opened["level"], opened["source"], opened["circuit"]) == (
        "WARNING",
        "api_particulier",
        "client",
    )
    assert opened["request_id"].startswith("logs-failing-")
    assert (closed["level"], closed["source"]) == ("INFO", "api_particulier")
    assert closed["request_id"] == "logs-probe"
    assert_no_identifier(lines())


def test_an_access_record_whose_path_carries_a_percent_encoded_identifier_is_redacted() -> (
    None
):
    with json_logs() as lines:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:50000",
            "GET",
            "/a/3%2C000%2C000%2C000%2C011",
            "1.1",
            404,
        )
    assert "/[redacted]" in lines()[0]["message"]
