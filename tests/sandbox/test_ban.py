"""The simulated BAN geocoder: `/search/` in GeoCodeJSON, the CSV batch, the rate limit."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import httpx
import pytest

from citizen_graph.sandbox import geocoder

pytestmark = pytest.mark.anyio
SEARCH, CSV = "/ban/search/", "/ban/search/csv/"


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get(SEARCH, params={"q": q, **params})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def batch(
    client: httpx.AsyncClient, text: str, **form: Any
) -> tuple[httpx.Response, list[dict[str, str]]]:
    files = {"data": ("addresses.csv", text.encode("utf-8"), "text/csv")}
    response = await client.post(CSV, files=files, data=form)
    rows = (
        list(csv.DictReader(io.StringIO(response.text)))
        if response.status_code == 200
        else []
    )
    return response, rows


async def test_dgfip_spelling_geocodes_to_the_right_housenumber(
    client: httpx.AsyncClient,
) -> None:
    body = await search(client, "12 R DES EXEMPLES 35000 RENNES", limit=1)
    assert {k: body[k] for k in ("type", "version", "attribution", "licence", "limit")} == {
        "type": "FeatureCollection", "version": "draft", "attribution": "BAN",
        "licence": "ETALAB-2.0", "limit": 1,
    }  # fmt: skip
    assert body["query"] == "12 R DES EXEMPLES 35000 RENNES"
    (feature,) = body["features"]
    properties = feature["properties"]
    assert properties["label"] == "12 Rue des Exemples 35000 Rennes"
    assert properties["type"] == "housenumber"
    assert properties["score"] >= 0.9
    assert properties["id"] == "35238_9000_00012"
    assert (properties["housenumber"], properties["street"]) == (
        "12",
        "Rue des Exemples",
    )
    assert (properties["citycode"], properties["postcode"]) == ("35238", "35000")
    assert properties["context"] == "35, Ille-et-Vilaine, Bretagne"
    lon, lat = feature["geometry"]["coordinates"]
    assert abs(lat - 48.11) < 0.05
    assert abs(lon + 1.68) < 0.05
    assert 340_000 < properties["x"] < 365_000  # Lambert-93
    assert 6_780_000 < properties["y"] < 6_800_000


async def test_apostrophes_and_abbreviations_are_folded(
    client: httpx.AsyncClient,
) -> None:
    body = await search(client, "3 AV DE L IMAGINAIRE 69007 LYON")
    best = body["features"][0]["properties"]
    assert best["label"] == "3 Avenue de l'Imaginaire 69007 Lyon"
    assert best["citycode"] == "69387"


async def test_locality_geocodes_as_a_locality(client: httpx.AsyncClient) -> None:
    body = await search(client, "LIEU DIT LE SIMULACRE 15200 MAURIAC")
    best = body["features"][0]["properties"]
    assert (best["type"], best["label"], best["citycode"]) == (
        "locality",
        "Le Simulacre 15200 Mauriac",
        "15120",
    )


async def test_unknown_number_falls_back_to_the_street_with_a_lower_score(
    client: httpx.AsyncClient,
) -> None:
    best = (await search(client, "777 R DES EXEMPLES 35000 RENNES"))["features"][0]
    assert best["properties"]["type"] == "street"
    assert best["properties"]["id"] == "35238_9000"
    assert 0.5 < best["properties"]["score"] < 0.9


async def test_unknown_street_is_not_found(client: httpx.AsyncClient) -> None:
    body = await search(client, "99 IMP DES NULLE PART 23000 GUERET")
    assert body["features"] == []


async def test_scores_are_deterministic(client: httpx.AsyncClient) -> None:
    first = await search(client, "rue des exemples", limit=5)
    second = await search(client, "rue des exemples", limit=5)
    assert first == second
    assert len(first["features"]) == 5


async def test_filters_and_type_narrow_the_results(client: httpx.AsyncClient) -> None:
    body = await search(client, "rue des exemples", postcode="35000", type="street")
    assert body["filters"] == {"postcode": "35000", "type": "street"}
    assert {f["properties"]["citycode"] for f in body["features"]} == {"35238"}
    assert body["features"][0]["properties"]["name"] == "Rue des Exemples"
    body = await search(client, "12 rue des exemples rennes", type="municipality")
    assert body["features"] == []


@pytest.mark.parametrize("q", ["ab", " -rue des exemples", ""])
async def test_bad_query_gets_400(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get(SEARCH, params={"q": q})
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Failed parsing query",
        "detail": [
            "q: must contain between 3 and 200 chars and start with a number or a letter"
        ],
    }


async def test_csv_batch_appends_result_columns(client: httpx.AsyncClient) -> None:
    text = (
        "\ufeffid,voie,cp\n"
        "1,12 R DES EXEMPLES,35000\n"
        "2,99 IMP DES NULLE PART,23000\n"
        "3,a,\n"
    )
    response, rows = await batch(client, text, columns=["voie", "cp"])
    assert response.headers["content-type"].startswith("text/csv")
    assert list(rows[0])[:3] == ["id", "voie", "cp"]
    assert list(rows[0])[3:] == [
        "latitude", "longitude", "result_label", "result_score", "result_score_next",
        "result_type", "result_id", "result_housenumber", "result_name", "result_street",
        "result_postcode", "result_city", "result_context", "result_citycode", "result_status",
    ]  # fmt: skip
    assert [r["result_status"] for r in rows] == ["ok", "not-found", "skipped"]
    assert rows[0]["result_label"] == "12 Rue des Exemples 35000 Rennes"
    assert float(rows[0]["result_score"]) >= 0.9
    assert rows[0]["result_id"] == "35238_9000_00012"
    assert rows[1]["result_label"] == ""


async def test_csv_postcode_filter_is_a_column_name(client: httpx.AsyncClient) -> None:
    text = "voie,cp\nR DES EXEMPLES,35000\n"
    _, rows = await batch(client, text, columns=["voie"], postcode="cp")
    assert rows[0]["result_postcode"] == "35000"


async def test_csv_result_columns_trim_the_output(client: httpx.AsyncClient) -> None:
    text = "adresse\n12 R DES EXEMPLES 35000 RENNES\n"
    _, rows = await batch(client, text, result_columns=["result_id", "result_status"])
    assert rows == [
        {"adresse": "12 R DES EXEMPLES 35000 RENNES", "result_id": "35238_9000_00012",
         "result_status": "ok"}
    ]  # fmt: skip


async def test_csv_unknown_column_gets_400(client: httpx.AsyncClient) -> None:
    response, _ = await batch(client, "voie\nx\n", columns=["adresse"])
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "At least one given column name is unknown",
    }


async def test_csv_rows_score_only_the_streets_of_their_postcode(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch stays cheap because each row is scored against its postcode's streets
    only, never the whole population's (counted, not timed)."""
    scored = Counter[str]()
    similarity = geocoder._similarity

    def counting(asked: dict[str, float], total: float, indexed: Any) -> float:
        scored[indexed.commune.postcode] += 1
        return similarity(asked, total, indexed)

    monkeypatch.setattr(geocoder, "_similarity", counting)
    await search(client, "R DES EXEMPLES")  # no postcode: every commune's streets
    everywhere = sum(scored.values())
    assert len(scored) > 10
    scored.clear()
    text = "n,voie,cp\n" + "".join(
        f"{i},{i % 80 + 1} R DES EXEMPLES,35000\n" for i in range(100)
    )
    _, rows = await batch(client, text, columns=["voie"], postcode="cp")
    assert len(rows) == 100
    assert {r["result_status"] for r in rows} == {"ok"}
    assert set(scored) == {"35000"}
    assert scored["35000"] % 100 == 0
    assert scored["35000"] // 100 * 10 < everywhere


async def test_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    statuses = [
        (await client.get(SEARCH, params={"q": "rennes"})).status_code
        for _ in range(50)
    ]
    response = await client.get(SEARCH, params={"q": "rennes"})
    assert statuses == [200] * 50
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "5"
    assert response.json()["code"] == 429


async def test_the_rate_limit_can_be_changed_or_lifted_for_benchmarks() -> None:
    from citizen_graph.sandbox import create_sandbox_app

    for limit, served in ((5, 5), (0, 60)):
        app = create_sandbox_app(rate_limits={"ban": limit}, households=200)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            statuses = [
                (await c.get(SEARCH, params={"q": "rennes"})).status_code
                for _ in range(60)
            ]
        assert statuses.count(200) == served, limit
