"""The per-request context: the caller, the authorization decision, fresh loaders, the citizens
asked for (for the audit), the id codec."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import strawberry

from citizen_graph.auth.credentials import Caller
from citizen_graph.auth.decision import Decision
from citizen_graph.auth.policy import Policy
from citizen_graph.errors import BadUserInput
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.records import CitizenKey
from citizen_graph.resolvers.loaders import Loaders


@dataclass
class Context:
    caller: Caller
    loaders: Loaders
    ids: CitizenIdCodec
    max_keys: int
    policy: Policy
    decision: Decision | None = None  # taken before execution (auth.enforcement)
    subjects: list[CitizenKey] = field(default_factory=list)  # the citizens asked for
    keys_asked: int = 0  # across every root field and alias of the request

    def ask_for(self, count: int) -> None:
        """Count citizens asked for; one request asks for at most `max_keys` in all."""
        self.keys_asked += count
        if self.keys_asked > self.max_keys:
            raise BadUserInput(f"At most {self.max_keys} citizens per request.")

    today: datetime.date = field(default_factory=datetime.date.today)


Info = strawberry.Info[Context, None]
