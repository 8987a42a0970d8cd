"""The per-request context: the caller, the authorization decision (with the citizens asked
for, for the audit), fresh loaders, the id codec, the limits, the audit log."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import strawberry
from opentelemetry.trace import Tracer

from citizen_graph.auth.admission import Admission
from citizen_graph.auth.audit import AuditLog
from citizen_graph.auth.clients import Caller
from citizen_graph.auth.decision import Decision
from citizen_graph.auth.introspection import SchemaViews
from citizen_graph.auth.policy import Policy
from citizen_graph.auth.quotas import Quotas
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.metrics import Metrics
from citizen_graph.records import CitizenKey
from citizen_graph.resolvers.loaders import Loaders
from citizen_graph.schema.subjects import SubjectReader
from citizen_graph.settings import LimitSettings


@dataclass
class Context:
    caller: Caller
    loaders: Loaders
    ids: CitizenIdCodec
    limits: LimitSettings
    policy: Policy
    views: SchemaViews  # what introspection shows each role
    subject_reader: SubjectReader
    audit: AuditLog
    admission: Admission
    quotas: Quotas
    metrics: Metrics
    tracer: Tracer | None  # None: tracing is off
    keys: Mapping[str, str]  # per upstream, the citizen key it looks people up by
    response: Any  # Strawberry's sub-response: the stage may set its status and headers
    decision: Decision | None = None  # taken before execution (auth.enforcement)
    today: datetime.date = field(default_factory=datetime.date.today)

    @property
    def subjects(self) -> list[CitizenKey]:
        """The citizens asked for, as the pre-execution walk counted them (the audit's)."""
        return self.decision.subjects if self.decision else []


Info = strawberry.Info[Context, None]
