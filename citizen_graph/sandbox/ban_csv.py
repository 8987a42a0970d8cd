"""BAN's batch geocoding of a CSV file (`POST /search/csv/`): the input columns, then the
`latitude … result_status` columns of the best match of each row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from citizen_graph.sandbox.geocoder import Geocoder, Result

RESULT_COLUMNS = (
    "latitude", "longitude", "result_label", "result_score", "result_score_next",
    "result_type", "result_id", "result_housenumber", "result_name", "result_street",
    "result_postcode", "result_city", "result_context", "result_citycode", "result_status",
)  # fmt: skip


class UnknownColumn(ValueError):
    """A column given in `columns`, `postcode`, `citycode` or `result_columns` does not exist."""


def valid_query(text: str) -> bool:
    """BAN's rule: 3 to 200 characters, starting with a letter or a digit."""
    text = text.strip()
    return 3 <= len(text) <= 200 and text[0].isalnum()


@dataclass(frozen=True, slots=True)
class CsvRequest:
    text: str
    columns: Sequence[str]  # empty: every column
    postcode_column: str | None = None
    citycode_column: str | None = None
    result_columns: Sequence[str] = ()  # empty: every result column

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The header and the rows; UnknownColumn when a column name is not in the header."""
        rows = list(csv.reader(io.StringIO(self.text)))
        header = rows[0] if rows else []
        named = [*self.columns, self.postcode_column, self.citycode_column]
        if not set(filter(None, named)) <= set(header):
            raise UnknownColumn
        if not set(self.result_columns) <= set(RESULT_COLUMNS):
            raise UnknownColumn
        width = len(header)
        return header, [(row + [""] * width)[:width] for row in rows[1:] if any(row)]


def geocode_table(
    request: CsvRequest, header: list[str], rows: list[list[str]], geocoder: Geocoder
) -> str:
    index = {name: i for i, name in enumerate(header)}
    columns = [index[c] for c in request.columns] or list(range(len(header)))
    postcode = index.get(request.postcode_column or "")
    citycode = index.get(request.citycode_column or "")
    appended = list(request.result_columns) or list(RESULT_COLUMNS)
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow([*header, *appended])
    for row in rows:
        query = " ".join(row[i].strip() for i in columns if row[i].strip())
        filters = (
            row[postcode].strip() or None if postcode is not None else None,
            row[citycode].strip() or None if citycode is not None else None,
        )
        result = _geocode_row(query, *filters, geocoder)
        writer.writerow([*row, *(result.get(c, "") for c in appended)])
    return output.getvalue()


def _geocode_row(
    query: str, postcode: str | None, citycode: str | None, geocoder: Geocoder
) -> dict[str, str]:
    if not valid_query(query):
        return {"result_status": "skipped"}
    results = geocoder.search(query, limit=2, postcode=postcode, citycode=citycode)
    if not results:
        return {"result_status": "not-found"}
    best = results[0]
    next_score = str(results[1].score) if len(results) > 1 else ""
    return _columns(best) | {"result_score_next": next_score, "result_status": "ok"}


def _columns(result: Result) -> dict[str, str]:
    lat, lon = result.position
    commune = result.commune
    return {
        "latitude": str(lat),
        "longitude": str(lon),
        "result_label": result.label,
        "result_score": str(result.score),
        "result_type": result.type,
        "result_id": result.id,
        "result_housenumber": result.housenumber or "",
        "result_name": result.name,
        "result_street": result.street.name
        if result.street and result.street.kind
        else "",
        "result_postcode": commune.postcode,
        "result_city": commune.name,
        "result_context": commune.context,
        "result_citycode": commune.code,
    }
