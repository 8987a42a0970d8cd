"""Simulated Base Adresse Nationale: `GET /ban/search/` (GeoCodeJSON) and the batch
`POST /ban/search/csv/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from citizen_graph.sandbox import openapi
from citizen_graph.sandbox.ban_csv import (
    CsvRequest,
    UnknownColumn,
    geocode_table,
    valid_query,
)
from citizen_graph.sandbox.geocoder import RESULT_TYPES, Geocoder, Result
from citizen_graph.sandbox.latency import Latency, Lognormal
from citizen_graph.sandbox.ratelimit import RollingWindow
from citizen_graph.sandbox.runtime import Runtime
from citizen_graph.sandbox.upstream import SimulatedUpstream, World

# No authentication; 50 requests per rolling second per client IP, then 429 for 5 s with
# `Retry-After`, as the Géoplateforme does.

NAME = "ban"
RATE_LIMIT = 50  # requests per rolling second, per IP
PENALTY_S = 5.0
Handler = Callable[[Request], Awaitable[Response]]


def _bad_query(detail: str) -> Response:
    body = {"code": 400, "message": "Failed parsing query", "detail": [detail]}
    return JSONResponse(body, status_code=400)


class Ban:
    def __init__(
        self, geocoder: Geocoder, runtime: Runtime, rate_limit: int = RATE_LIMIT
    ) -> None:
        """`rate_limit`: requests per rolling second per IP; 0: none (benchmarks)."""
        self._geocoder = geocoder
        self._runtime = runtime
        self._limits = (
            RollingWindow(rate_limit, penalty_s=PENALTY_S) if rate_limit else None
        )
        if self._limits is not None:
            runtime.on_reset(self._limits.clear)

    @classmethod
    def build(cls, world: World) -> Ban:
        addresses = (h.address for h in world.population.households)
        limit = world.rate_limits.get(NAME, RATE_LIMIT)
        return cls(Geocoder(addresses), world.runtime, limit)

    def routes(self) -> list[BaseRoute]:
        runtime, fail = self._runtime, self.failure
        search, batch = self._limited(self.search), self._limited(self.search_csv)
        return [
            runtime.route(NAME, "GET", "/ban/search/", search, fail),
            runtime.route(NAME, "GET", "/ban/search", search, fail),
            runtime.route(NAME, "POST", "/ban/search/csv/", batch, fail),
            runtime.route(NAME, "POST", "/ban/search/csv", batch, fail),
        ]

    def credentials(self) -> None:
        """No authentication."""
        return None

    def admin_routes(self) -> list[BaseRoute]:
        return []

    def failure(self, request: Request, status: int) -> Response:
        messages = {404: "Not Found", 429: "Too many requests"}
        body = {"code": status, "message": messages.get(status, "Service unavailable")}
        return JSONResponse(body, status_code=status)

    def _limited(self, handler: Handler) -> Handler:
        limits = self._limits
        if limits is None:
            return handler

        async def endpoint(request: Request) -> Response:
            verdict = limits.hit(request.client.host if request.client else "")
            if not verdict.allowed:
                response = self.failure(request, 429)
                response.headers["Retry-After"] = str(verdict.retry_after_s)
                return response
            return await handler(request)

        return endpoint

    async def search(self, request: Request) -> Response:
        params = request.query_params
        q = params.get("q", "")
        if not valid_query(q):
            return _bad_query(
                "q: must contain between 3 and 200 chars and start with a number or a letter"
            )
        limit = params.get("limit", "5")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return _bad_query("limit: must be an integer between 1 and 100")
        result_type = params.get("type") or None
        if result_type is not None and result_type not in RESULT_TYPES:
            return _bad_query(f"type: must be one of {', '.join(RESULT_TYPES)}")
        filters = {
            k: params[k] for k in ("postcode", "citycode", "type") if params.get(k)
        }
        await self._runtime.work(NAME)
        results = self._geocoder.search(
            q,
            limit=int(limit),
            postcode=filters.get("postcode"),
            citycode=filters.get("citycode"),
            result_type=result_type,
        )
        return JSONResponse(_collection(q, int(limit), filters, results))

    async def search_csv(self, request: Request) -> Response:
        async with request.form(max_part_size=50 * 1024 * 1024) as form:
            return await self._search_csv(form)

    async def _search_csv(self, form: FormData) -> Response:
        upload = form.get("data")
        if not isinstance(upload, UploadFile):
            return JSONResponse({"code": 400, "message": "A CSV file is required"}, 400)
        try:
            text = (await upload.read()).decode("utf-8-sig")
        except UnicodeDecodeError:
            return JSONResponse({"code": 400, "message": "The file must be UTF-8"}, 400)
        request = CsvRequest(
            text,
            [str(c) for c in form.getlist("columns")],
            _column(form, "postcode"),
            _column(form, "citycode"),
            [str(c) for c in form.getlist("result_columns")],
        )
        try:
            header, rows = request.table()
        except UnknownColumn:
            body = {"code": 400, "message": "At least one given column name is unknown"}
            return JSONResponse(body, status_code=400)
        await self._runtime.work(NAME, rows=len(rows))
        name = (upload.filename or "data.csv").rsplit(".", 1)[0]
        return Response(
            geocode_table(request, header, rows, self._geocoder),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}.geocoded.csv"'
            },
        )


def _column(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return str(value) if value else None


def _collection(
    q: str, limit: int, filters: dict[str, str], results: list[Result]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "version": "draft",
        "features": [_feature(r) for r in results],
        "attribution": "BAN",
        "licence": "ETALAB-2.0",
        "query": q,
    }
    if filters:
        body["filters"] = filters
    body["limit"] = limit
    return body


def _feature(result: Result) -> dict[str, Any]:
    lat, lon = result.position
    x, y = result.xy
    commune = result.commune
    properties: dict[str, Any] = {
        "label": result.label,
        "score": result.score,
        "id": result.id,
        "type": result.type,
        "name": result.name,
        "postcode": commune.postcode,
        "citycode": commune.code,
        "x": x,
        "y": y,
        "city": commune.name,
        "context": commune.context,
        "importance": result.importance,
    }
    if result.housenumber:
        properties["housenumber"] = result.housenumber
    if result.street is not None and result.street.kind:
        properties["street"] = result.street.name
    if commune.district:
        properties["district"] = commune.district
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


BAN = SimulatedUpstream(
    name=NAME,
    prefix="/ban",
    build=Ban.build,
    openapi=openapi.ban,
    latency={"realistic": Latency(Lognormal(0.03, 0.4), per_row_s=0.001)},
)
