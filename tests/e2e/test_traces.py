"""Traces, exported over OTLP/HTTP to a real receiver on loopback: a span per request (the
caller's `traceparent` its parent), per decision and admission, per upstream exchange; no
query text, variable or identifier in any attribute; nothing built when tracing is off."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from citizen_graph.serving import ThreadedServer
from tests.conftest import ALICE, ALICE_IDENTITY, GatewayClient
from tests.e2e.queries import ONE_CITIZEN

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Collector:
    """An OTLP/HTTP trace receiver: `POST /v1/traces` with a protobuf body."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[Route("/v1/traces", self.receive, methods=["POST"])]
        )

    async def receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        with self._lock:
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    self.spans.extend(scope.spans)
        return Response(b"", media_type="application/x-protobuf")

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while len(self.spans) < count:
            assert time.monotonic() < deadline, f"{len(self.spans)} spans of {count}"
            time.sleep(0.05)
        with self._lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    receiver = Collector()
    with ThreadedServer(receiver.app, lifespan="off") as server:
        yield receiver, f"{server.url}/v1/traces"


def attributes(span: Any) -> dict[str, Any]:
    found = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        found[item.key] = getattr(item.value, kind)
    return found


def traced_citizen(
    start_gateway: Callable[..., GatewayClient],
    collector: tuple[Collector, str],
    headers: dict[str, str],
) -> list[Any]:
    """One citizen's query through a traced gateway, and its spans: the request,
    authorize, admit and 4 upstream calls (the request's ends last)."""
    receiver, endpoint = collector
    gateway = start_gateway(tracing={"endpoint": endpoint, "export_delay_s": 0.05})
    variables = {"fiscalNumber": ALICE, "identity": ALICE_IDENTITY}
    gateway.query(ONE_CITIZEN, variables, headers=headers)
    return receiver.wait_for(7)


def test_a_request_its_decision_and_its_upstream_calls_are_spans_of_the_callers_trace(
    start_gateway: Callable[..., GatewayClient],
    collector: tuple[Collector, str],
) -> None:
    spans = traced_citizen(start_gateway, collector, {"traceparent": TRACEPARENT})
    by_name = {span.name: span for span in spans}
    assert {"POST /graphql", "authorize", "admit"} <= set(by_name)
    assert {
        "dgfip tax_history",
        "ban geocode",
        "api_particulier family_quotient",
    } <= set(by_name)
    request = by_name["POST /graphql"]
    assert request.trace_id.hex() == TRACE_ID
    assert request.parent_span_id.hex() == PARENT_ID
    for span in spans:
        assert span.trace_id.hex() == TRACE_ID
    for name in ("authorize", "admit", "dgfip tax_history", "ban geocode"):
        assert by_name[name].parent_span_id == request.span_id, name
    assert attributes(request)["http.response.status_code"] == 200
    assert attributes(request)["citizen_graph.role"] == "social_services"
    assert attributes(by_name["authorize"])["citizen_graph.citizens"] == 1
    dgfip = attributes(by_name["dgfip tax_history"])
    assert dgfip["citizen_graph.source"] == "dgfip"
    assert dgfip["http.response.status_code"] == 200
    assert dgfip["citizen_graph.habilitation"].endswith("-habilitation")
    student = attributes(by_name["api_particulier student_status"])
    assert student["http.response.status_code"] == 404  # ALICE is no student
    values = " ".join(
        str(v) for span in spans for v in attributes(span).values()
    ).upper()
    for personal in (ALICE, "FICTIF", "LAMBERT", "ALICE", "1984", "QUERY", "CITIZEN("):
        assert personal not in values


def test_a_request_without_traceparent_starts_its_own_trace(
    start_gateway: Callable[..., GatewayClient],
    collector: tuple[Collector, str],
) -> None:
    receiver, endpoint = collector
    gateway = start_gateway(tracing={"endpoint": endpoint, "export_delay_s": 0.05})
    gateway.post("{ viewer { role } }", key="not-a-key")  # refused at the edge
    [request] = receiver.wait_for(1)
    assert request.name == "POST /graphql"
    assert not request.parent_span_id
    assert attributes(request)["http.response.status_code"] == 401


def test_a_callers_tracestate_is_never_exported(
    start_gateway: Callable[..., GatewayClient],
    collector: tuple[Collector, str],
) -> None:
    state = f"vendor={ALICE}"  # free text a caller controls: it could be anything
    headers = {"traceparent": TRACEPARENT, "tracestate": state}
    spans = traced_citizen(start_gateway, collector, headers)
    assert [span.trace_state for span in spans] == [""] * len(spans)
    assert {span.trace_id.hex() for span in spans} == {TRACE_ID}  # the parent held


def test_tracing_is_off_by_default_and_builds_no_span(gateway: GatewayClient) -> None:
    response = gateway.post("{ viewer { role } }", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    services = gateway.app.state.services
    assert services.tracing.tracer is None
    assert all(client._tracer is None for client in services.connectors.clients)
