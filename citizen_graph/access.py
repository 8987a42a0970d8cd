"""What an upstream call is made with: the habilitation's credentials, as connectors get them.

A habilitation is what the State grants one public body for one procedure (DataPass): its own
API Particulier token, its own DGFiP OAuth client, its SIRET as `recipient`. Authentication
picks the one that serves the caller's role (`auth/habilitations.py`); the loaders hand it to
the connectors with every call; the connectors use it and never choose it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import Secret


@dataclass(frozen=True)
class ParticulierCredential:
    token: Secret = field(repr=False)
    token_id: str  # public: the JWT's `jti` (or a digest); rate limits count per token


@dataclass(frozen=True)
class DgfipCredential:
    client_id: str  # public
    client_secret: Secret = field(repr=False)
    scopes: tuple[str, ...] = ()  # asked for with each token (empty: the routes')


@dataclass(frozen=True)
class Access:
    habilitation: str  # its public id: the cache key, the journal and the audit name it
    recipient: str  # SIRET of the body receiving the data
    api_particulier: ParticulierCredential | None = None
    dgfip: DgfipCredential | None = None
