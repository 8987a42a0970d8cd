"""Base Adresse Nationale geocoder: one address with `/search/`, many with `/search/csv/`.

The CSV batch is the only batch endpoint of all the upstreams: the gateway geocodes every
address of a request in one call. A row BAN cannot match comes back as None, not an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from citizen_graph.connectors._client import (
    ClientConfig,
    UpstreamClient,
    json_body,
    unexpected_status,
    unreadable_answer,
)
from citizen_graph.connectors.upstream import Operation, Upstream
from citizen_graph.records import GeocodedAddress
from citizen_graph.settings import Settings

SOURCE = "ban"


class BanConnector:
    source = SOURCE

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client

    async def geocode(self, queries: Sequence[str]) -> list[GeocodedAddress | None]:
        """Geocode each one-line address; the answer is in the same order."""
        if not queries:
            return []
        if len(queries) == 1:
            return [await self._search(queries[0])]
        return await self._search_csv(queries)

    async def _search(self, query: str) -> GeocodedAddress | None:
        response = await self.client.request(
            "geocode", "GET", "/search/", params={"q": query, "limit": "1"}
        )
        if response.status_code != 200:
            raise unexpected_status(SOURCE, response)
        body = json_body(response, SOURCE)
        features = body.get("features") if isinstance(body, dict) else None
        if not isinstance(features, list):
            raise unreadable_answer(SOURCE)
        return _from_feature(features[0]) if features else None

    async def _search_csv(self, queries: Sequence[str]) -> list[GeocodedAddress | None]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "q"])
        writer.writerows((str(i), q) for i, q in enumerate(queries))
        response = await self.client.request(
            "geocode_batch",
            "POST",
            "/search/csv/",
            files={"data": ("addresses.csv", buffer.getvalue().encode(), "text/csv")},
            data={"columns": ["q"]},
        )
        if response.status_code != 200:
            raise unexpected_status(SOURCE, response)
        results: list[GeocodedAddress | None] = [None] * len(queries)
        for row in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))):
            index = int(row.get("row") or -1)
            if 0 <= index < len(results) and row.get("result_status") == "ok":
                results[index] = _from_row(row)
        return results


def _from_feature(feature: dict[str, Any]) -> GeocodedAddress:
    try:
        props = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        return GeocodedAddress(
            label=props["label"],
            house_number=props.get("housenumber"),
            street=props.get("street") or props.get("name"),
            postcode=props.get("postcode"),
            city=props.get("city"),
            city_code=props.get("citycode"),
            latitude=float(lat),
            longitude=float(lon),
            score=_float(props.get("score")),
            ban_id=props.get("id"),
        )
    except (KeyError, TypeError, ValueError):
        raise unreadable_answer(SOURCE) from None


def _from_row(row: dict[str, str]) -> GeocodedAddress:
    try:
        return GeocodedAddress(
            label=row["result_label"],
            house_number=row.get("result_housenumber") or None,
            street=row.get("result_street") or row.get("result_name") or None,
            postcode=row.get("result_postcode") or None,
            city=row.get("result_city") or None,
            city_code=row.get("result_citycode") or None,
            latitude=_float(row.get("latitude")),
            longitude=_float(row.get("longitude")),
            score=_float(row.get("result_score")),
            ban_id=row.get("result_id") or None,
        )
    except (KeyError, ValueError):
        raise unreadable_answer(SOURCE) from None


def _float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def connect(settings: Settings) -> BanConnector:
    return BanConnector(UpstreamClient(ClientConfig.of(SOURCE, settings)))


UPSTREAM = Upstream(
    name=SOURCE,
    operations=(Operation("geocode", SOURCE, lambda cache: cache.geocode_ttl_s),),
    connect=connect,
    sandbox_path="/ban",
    batched=True,
)
