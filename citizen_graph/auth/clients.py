"""Who calls: a client of the clients file (or a demo key), and the Caller a request's
credential, declared role and purpose make of it (auth/credentials.py)."""

from __future__ import annotations

from dataclasses import dataclass

from citizen_graph.access import Access
from citizen_graph.auth.habilitations import Habilitation
from citizen_graph.auth.quotas import Quota
from citizen_graph.persisted import TrustedDocuments


@dataclass(frozen=True)
class Client:
    client_id: str
    key_sha256: str
    recipient: str  # SIRET of the organisation receiving the data
    roles: tuple[str, ...]  # the first one is the default
    purposes: tuple[str, ...] = ()  # its declared procedures; empty: any purpose
    habilitations: tuple[Habilitation, ...] = ()
    quota: Quota | None = None
    documents: TrustedDocuments | None = None  # its manifest (persisted.py)

    def habilitation_for(self, role: str) -> Habilitation | None:
        return next((h for h in self.habilitations if role in h.roles), None)


@dataclass(frozen=True)
class Caller:
    client_id: str
    recipient: str
    role: str
    allowed_roles: tuple[str, ...]
    purpose: str | None
    habilitation: Habilitation | None = None  # the one serving `role`
    quota: Quota | None = None  # the client's
    agent: str | None = None  # an agent's token: its subject (`sub`)
    documents: TrustedDocuments | None = None  # the client's

    @property
    def access(self) -> Access:
        """What its upstream calls are made with (no credential at all without one)."""
        if self.habilitation is not None:
            return self.habilitation.access
        return Access("", self.recipient)

    @property
    def uncovered(self) -> frozenset[str]:
        """Coordinates the role may read but the habilitation's scopes do not cover."""
        return self.habilitation.uncovered if self.habilitation else frozenset()
