"""Address: the DGFiP tax address, normalised and geocoded by the BAN."""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry

from citizen_graph.errors import UpstreamError
from citizen_graph.records import GeocodedAddress, TaxAddress

# The fields only the BAN gives (postcode and city also come from the tax address).
GEOCODED_FIELDS = (
    "house_number",
    "street",
    "city_code",
    "latitude",
    "longitude",
    "match_score",
    "ban_id",
)


@strawberry.type(description="The tax address at 1 January, geocoded by the BAN.")
class Address:
    label: str = strawberry.field(
        description="Normalised label from the BAN; DGFiP's own spelling (sourceLabel) "
        "when the BAN finds no match (then every geocoding field is null) or cannot "
        "answer (then each geocoding field is null with an UPSTREAM_UNAVAILABLE error)."
    )
    house_number: str | None
    street: str | None
    postcode: str | None
    city: str | None
    city_code: str | None = strawberry.field(description="INSEE commune code.")
    latitude: float | None
    longitude: float | None
    match_score: float | None = strawberry.field(description="BAN score, 0..1.")
    ban_id: str | None
    source_label: str | None = strawberry.field(
        description="The address as the upstream (DGFiP) wrote it."
    )

    @classmethod
    def from_records(cls, tax: TaxAddress, geocoded: GeocodedAddress | None) -> Address:
        if geocoded is None:
            return cls(
                label=tax.label,
                house_number=None,
                street=None,
                postcode=tax.postcode,
                city=tax.city,
                city_code=None,
                latitude=None,
                longitude=None,
                match_score=None,
                ban_id=None,
                source_label=tax.label,
            )
        return cls(
            label=geocoded.label,
            house_number=geocoded.house_number,
            street=geocoded.street,
            postcode=geocoded.postcode,
            city=geocoded.city,
            city_code=geocoded.city_code,
            latitude=geocoded.latitude,
            longitude=geocoded.longitude,
            match_score=geocoded.score,
            ban_id=geocoded.ban_id,
            source_label=tax.label,
        )

    @classmethod
    def without_geocoding(cls, tax: TaxAddress, error: UpstreamError) -> Address:
        """DGFiP's address while the BAN cannot answer: each geocoded field holds `error`,
        which graphql-core raises at that field's path when (and only when) it is
        selected, so no field needs a resolver of its own."""
        failed: dict[str, Any] = dict.fromkeys(GEOCODED_FIELDS, error)
        return dataclasses.replace(cls.from_records(tax, None), **failed)
