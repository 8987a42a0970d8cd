"""Traces with OpenTelemetry, off by default (`[tracing] endpoint`: an OTLP/HTTP collector).

A span per request (`edge/tracing.py`: a W3C `traceparent` from the caller is its parent), per
authorization decision and admission (`auth/enforcement.py`), per upstream exchange (the
connectors' client). Attributes are counts, names of fields' types, upstream sources,
operations, statuses, the request id and the public ids of the client and habilitation:
never the query's text, its variables, a citizen's identifier or a credential.

Each gateway has its own tracer provider (never the process-wide one, which can be set only
once), with a batch processor exporting on its own thread; its spans are flushed when the
gateway stops. Off, no tracer exists and no span is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from citizen_graph import __version__
from citizen_graph.settings import TracingSettings

W3C = TraceContextTextMapPropagator()  # `traceparent` and `tracestate`, nothing else


class Tracing:
    def __init__(
        self, settings: TracingSettings, exporter: SpanExporter | None = None
    ) -> None:
        """`exporter`: instead of OTLP/HTTP to `settings.endpoint` (tests)."""
        self._provider: TracerProvider | None = None
        self.tracer: Tracer | None = None
        if not settings.endpoint and exporter is None:
            return
        resource = Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        self._provider = TracerProvider(resource=resource, sampler=sampler)
        exporter = exporter or OTLPSpanExporter(
            endpoint=settings.endpoint, timeout=settings.timeout_s
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(
                exporter, schedule_delay_millis=settings.export_delay_s * 1000
            )
        )
        self.tracer = self._provider.get_tracer("citizen_graph", __version__)

    def shutdown(self) -> None:
        """Export what is left, then stop."""
        if self._provider is not None:
            self._provider.shutdown()


def span(tracer: Tracer | None, name: str) -> AbstractContextManager[Span | None]:
    """A child span of the current one, or nothing when tracing is off."""
    if tracer is None:
        return nullcontext()
    return tracer.start_as_current_span(name, record_exception=False)


def parent_of(headers: Mapping[str, str]) -> Any:
    """The caller's trace context (W3C `traceparent`), or none."""
    return W3C.extract(headers)
