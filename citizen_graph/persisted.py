"""Persisted operations: Apollo's automatic persisted queries, and trusted documents.

APQ (the protocol of Apollo Client's persisted-query link and urql's `persistedExchange`):
a request carries `extensions.persistedQuery = {"version": 1, "sha256Hash": h}`;
- with no `query`: the stored document of hash `h`, or the error `PersistedQueryNotFound`
  (code PERSISTED_QUERY_NOT_FOUND, HTTP 200), on which the client sends it again with its
  query;
- with its `query`: the SHA-256 of the query must be `h` (else BAD_USER_INPUT "provided sha
  does not match query"), and the document is stored for the next time.
GET is served for hashed requests only (`edge/methods.py`): a document never travels in a
URL, where access logs and proxies keep it.

The store is per client (a hash only its own client registered is known: no probing for
others' documents), bounded by bytes in this process (least recently used out first) and, with
a Redis, shared by every replica: sealed like the cache's answers (a document may carry an
inline identifier), named by a keyed hash of client and digest, with a TTL.

Trusted documents: a client may have a manifest (hash → document) in the clients file; one
marked `trusted_documents_only` runs nothing else (PERSISTED_QUERY_NOT_ALLOWED).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from citizen_graph.errors import (
    BadUserInput,
    PersistedQueryNotAllowed,
    PersistedQueryNotFound,
)
from citizen_graph.shared.state import SharedState, SharedUnavailable

SHA256 = re.compile(r"[0-9a-f]{64}")
STORE_BYTES = 20_000_000  # this process's store: documents' total size
STORE_TTL_S = 86_400  # in Redis


@dataclasses.dataclass(frozen=True)
class TrustedDocuments:
    """A client's manifest: the only documents it may run when `only`."""

    documents: Mapping[str, str]  # sha256 (hex) → document
    only: bool = True


class ManifestError(ValueError):
    """A trusted-documents manifest that cannot be used; the message says where."""


def read_manifest(path: Path) -> dict[str, str]:
    """A manifest: Apollo's persisted-query manifest (`{"format":
    "apollo-persisted-query-manifest", "operations": [{"id", "body", …}]}`) or a plain
    JSON object `{sha256: document}`; every id must be its document's SHA-256."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from None
    if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
        pairs = [
            (op.get("id"), op.get("body")) if isinstance(op, dict) else (None, None)
            for op in raw["operations"]
        ]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ManifestError(f"manifest {path}: expected a JSON object")
    documents: dict[str, str] = {}
    for n, (digest, body) in enumerate(pairs, start=1):
        if not isinstance(digest, str) or not isinstance(body, str):
            raise ManifestError(f"manifest {path}: entry {n} needs an id and a body")
        if sha256(body) != digest:
            raise ManifestError(
                f"manifest {path}: entry {n}'s id is not its document's SHA-256"
            )
        documents[digest] = body
    return documents


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries:
    def __init__(self, shared: SharedState | None = None) -> None:
        # (client id, digest) → document
        self._local: LRUCache[tuple[str, str], str] = LRUCache(
            STORE_BYTES, getsizeof=len
        )
        self._shared = shared

    async def resolve(
        self,
        query: str | None,
        extensions: Mapping[str, Any] | None,
        *,
        client: str,
        trusted: TrustedDocuments | None = None,
    ) -> str | None:
        """The document to run: `query`, or the one its hash names in `client`'s store;
        raises the protocol's errors. None: no query and no persisted one (Strawberry
        refuses it)."""
        persisted = (extensions or {}).get("persistedQuery")
        digest = None if persisted is None else _digest(persisted)
        trusted_documents = trusted.documents if trusted is not None else {}
        only = trusted is not None and trusted.only  # runs its trusted documents alone
        if query is not None:
            if digest is not None and sha256(query) != digest:
                raise BadUserInput("provided sha does not match query")
            if only and (digest or sha256(query)) not in trusted_documents:
                raise PersistedQueryNotAllowed
            if digest is not None:
                await self._store(client, digest, query)
            return query
        if digest is not None and digest in trusted_documents:
            return trusted_documents[digest]
        if only:
            raise PersistedQueryNotAllowed
        if digest is None:
            return None
        document = await self._lookup(client, digest)
        if document is None:
            raise PersistedQueryNotFound
        return document

    async def _lookup(self, client: str, digest: str) -> str | None:
        document = self._local.get((client, digest))
        if document is not None or self._shared is None or not self._shared.available:
            return document
        name = self._shared.name("persisted", client, digest)
        with contextlib.suppress(SharedUnavailable):
            sealed = await self._shared.run(lambda r: r.get(name))
            plain = (
                self._shared.unseal(sealed, name) if isinstance(sealed, bytes) else None
            )
            if plain is not None:
                document = plain.decode()
                if sha256(document) == digest:  # opened under our key: still checked
                    self._local[client, digest] = document
                    return document
        return None

    async def _store(self, client: str, digest: str, document: str) -> None:
        if (client, digest) in self._local:
            return
        if len(document) < STORE_BYTES:
            self._local[client, digest] = document
        if self._shared is None or not self._shared.available:
            return
        name = self._shared.name("persisted", client, digest)
        sealed = self._shared.seal(document.encode(), name)
        with contextlib.suppress(SharedUnavailable):
            await self._shared.run(lambda r: r.set(name, sealed, ex=STORE_TTL_S))


def _digest(persisted: Any) -> str:
    version = persisted.get("version") if isinstance(persisted, Mapping) else None
    # The JSON integer 1 alone: `true` and `1.0` equal 1 in Python.
    if type(version) is not int or version != 1:
        raise BadUserInput("PersistedQueryNotSupported")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise BadUserInput("persistedQuery.sha256Hash must be 64 lowercase hex digits.")
    return digest
