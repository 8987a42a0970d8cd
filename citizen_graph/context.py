"""The per-request context resolvers receive: the caller, fresh loaders, the id codec."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import strawberry

from citizen_graph.auth.credentials import Caller
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.resolvers.loaders import Loaders


@dataclass
class Context:
    caller: Caller
    loaders: Loaders
    ids: CitizenIdCodec
    max_keys: int
    readable_fields: tuple[str, ...]
    today: datetime.date = field(default_factory=datetime.date.today)


Info = strawberry.Info[Context, None]
