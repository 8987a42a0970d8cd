"""Per-request data loaders, one per upstream operation, over the cross-request cache."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from citizen_graph.access import Access
from citizen_graph.cache import UpstreamCache
from citizen_graph.connectors import Connectors
from citizen_graph.records import (
    FamilyQuotient,
    GeocodedAddress,
    PivotIdentity,
    StudentStatus,
    TaxHistory,
    TaxSituation,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

FamilyQuotientKey = tuple[PivotIdentity, int | None, int | None]


class Loaders:
    """A new `Loaders` is built for every request (never shared: a loader is a cache). Each loader
    collects the keys asked during one tick of the event loop and hands them to its batch function,
    which deduplicates them, serves what the cross-request cache holds and fetches the rest: one
    call per key for DGFiP and API Particulier (they have no batch endpoint), one CSV call for all
    the addresses for the BAN.
    """

    def __init__(self, connectors: Connectors, cache: UpstreamCache, access: Access):
        """`access`: the habilitation serving the request, handed to every call."""
        self._connectors = connectors
        self._cache = cache
        self._access = access
        self.tax_history: DataLoader[str, TaxHistory] = _loader(
            self._per_key("tax_history", self._tax_history)
        )
        self.tax_situation: DataLoader[tuple[str, int], TaxSituation] = _loader(
            self._per_key("tax_situation", self._tax_situation)
        )
        self.family_quotient: DataLoader[FamilyQuotientKey, FamilyQuotient] = _loader(
            self._per_key("family_quotient", self._family_quotient)
        )
        self.student_status: DataLoader[PivotIdentity, StudentStatus] = _loader(
            self._per_key("student_status", self._student_status)
        )
        self.geocode: DataLoader[str, GeocodedAddress | None] = _loader(self._geocode)

    def _per_key(
        self, operation: str, fetch: Callable[[Any], Awaitable[V]]
    ) -> Callable[[list[Any]], Awaitable[list[V | BaseException]]]:
        habilitation = self._access.habilitation
        scoped = self._cache.per_caller(operation)

        async def batch(keys: list[Any]) -> list[V | BaseException]:
            if not scoped:
                return await self._cache.get_each(operation, keys, fetch)

            # Answers fetched with a habilitation are never served to another one.
            async def fetch_scoped(scoped_key: tuple[Any, str | None]) -> V:
                return await fetch(scoped_key[0])

            return await self._cache.get_each(
                operation, [(key, habilitation) for key in keys], fetch_scoped
            )

        return batch

    async def _tax_history(self, fiscal_number: str) -> TaxHistory:
        return await self._connectors.dgfip.tax_history(fiscal_number, self._access)

    async def _tax_situation(self, key: tuple[str, int]) -> TaxSituation:
        return await self._connectors.dgfip.tax_situation(*key, self._access)

    async def _family_quotient(self, key: FamilyQuotientKey) -> FamilyQuotient:
        identity, year, month = key
        return await self._connectors.api_particulier.family_quotient(
            identity, self._access, year, month
        )

    async def _student_status(self, identity: PivotIdentity) -> StudentStatus:
        return await self._connectors.api_particulier.student_status(
            identity, self._access
        )

    async def _geocode(
        self, queries: list[str]
    ) -> Sequence[GeocodedAddress | BaseException | None]:
        try:
            return await self._cache.get_many(
                "geocode", queries, self._connectors.ban.geocode
            )
        except Exception as error:  # one failed batch fails each of its keys
            return [error] * len(queries)


def _loader(
    batch: Callable[[list[Any]], Awaitable[Sequence[Any]]],
) -> DataLoader[Any, Any]:
    # aiodataloader accepts exceptions in the returned list (one per failed key), which
    # its annotations do not say.
    return DataLoader(batch)  # type: ignore[arg-type]
