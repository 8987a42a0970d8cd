"""The simulated BAN geocoder: an index of every household's address, and a deterministic search."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from citizen_graph.sandbox.address_query import (
    STOP_WORDS,
    STREET_KINDS,
    expand,
    parse,
    stem,
)
from citizen_graph.sandbox.geo import lambert93, offset, stable_fraction
from citizen_graph.sandbox.names import Street
from citizen_graph.sandbox.people import Address
from citizen_graph.sandbox.places import COMMUNES, Commune

# Streets are indexed per commune; a query is narrowed to communes by its postcode, its commune
# name or a filter, then scored against each street of those communes by weighted word overlap.

RESULT_TYPES = ("housenumber", "street", "locality", "municipality")
_MIN_SIMILARITY = 0.5


@dataclass(frozen=True, slots=True)
class Result:
    """One geocoding answer, with what BAN's feature properties need."""

    type: str  # one of RESULT_TYPES
    score: float
    commune: Commune
    street: Street | None = None
    housenumber: str | None = None

    @property
    def id(self) -> str:
        if self.street is None:
            return self.commune.code
        street_id = f"{self.commune.code}_{self.street.code}"
        if not self.housenumber:
            return street_id
        number = "".join(c for c in self.housenumber if c.isdigit())
        suffix = self.housenumber[len(number) :]
        return f"{street_id}_{int(number):05d}" + (f"_{suffix}" if suffix else "")

    @property
    def name(self) -> str:
        if self.street is None:
            return self.commune.name
        prefix = f"{self.housenumber} " if self.housenumber else ""
        return prefix + self.street.name

    @property
    def label(self) -> str:
        if self.street is None:
            return self.commune.name
        return f"{self.name} {self.commune.postcode} {self.commune.name}"

    @property
    def position(self) -> tuple[float, float]:
        """(lat, lon)."""
        commune = self.commune
        if self.street is None:
            return commune.lat, commune.lon
        spread = 0.03 if not self.street.kind else 0.012
        lat, lon = offset(
            commune.lat, commune.lon, f"{commune.code}_{self.street.code}", spread
        )
        if self.housenumber:
            lat, lon = offset(lat, lon, self.id, 0.0015)
        return lat, lon

    @property
    def xy(self) -> tuple[float, float]:
        return lambert93(*self.position)

    @property
    def importance(self) -> float:
        return round(0.45 + 0.3 * stable_fraction(self.id), 4)


@dataclass(slots=True)
class _IndexedStreet:
    street: Street
    commune: Commune
    weights: dict[str, float]  # stemmed word → weight (summed when repeated)
    total: float
    numbers: set[str] = field(default_factory=set)


def _weight(word: str) -> float:
    return 0.2 if word in STOP_WORDS else 0.5 if word in STREET_KINDS else 1.0


def _weights(tokens: Iterable[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for token in tokens:
        weights[stem(token)] = weights.get(stem(token), 0.0) + _weight(token)
    return weights


class Geocoder:
    def __init__(self, addresses: Iterable[Address]) -> None:
        self._by_postcode: dict[str, list[Commune]] = {}
        self._by_code = {c.code: c for c in COMMUNES}
        for commune in COMMUNES:
            self._by_postcode.setdefault(commune.postcode, []).append(commune)
        self._city_words = {c.code: expand(c.name) for c in COMMUNES}
        self._streets: dict[str, dict[str, _IndexedStreet]] = {
            c.code: {} for c in COMMUNES
        }
        self._street_weights: dict[str, dict[str, float]] = {}
        for address in addresses:
            if address.in_ban:
                self._add(address)

    def _add(self, address: Address) -> None:
        streets = self._streets[address.commune.code]
        indexed = streets.get(address.street.code)
        if indexed is None:
            weights = self._street_weights.get(address.street.code)
            if weights is None:
                weights = _weights(expand(address.street.name))
                self._street_weights[address.street.code] = weights
            indexed = _IndexedStreet(
                address.street, address.commune, weights, sum(weights.values())
            )
            streets[address.street.code] = indexed
        if address.number is not None:
            indexed.numbers.add(address.housenumber)

    def search(
        self,
        text: str,
        *,
        limit: int = 5,
        postcode: str | None = None,
        citycode: str | None = None,
        result_type: str | None = None,
    ) -> list[Result]:
        query = parse(text)
        communes = self._communes(postcode or query.postcode, citycode)
        words = list(query.words)
        located = bool(postcode or citycode or query.postcode in self._by_postcode)
        named = [c for c in communes if self._take_city(c, words)]
        if named:
            communes, located = named, True
        results = self._street_results(communes, words, query.housenumber, located)
        if located and not words and not query.housenumber:
            results += [Result("municipality", 0.9, c) for c in communes]
        if result_type:
            results = [r for r in results if r.type == result_type]
        results.sort(key=lambda r: (-r.score, r.id))
        return results[:limit]

    def _communes(self, postcode: str | None, citycode: str | None) -> list[Commune]:
        communes = list(COMMUNES)
        if postcode is not None:
            communes = self._by_postcode.get(postcode, communes if citycode else [])
        if citycode is not None:
            communes = [c for c in communes if c.code == citycode]
        return communes

    def _take_city(self, commune: Commune, words: list[str]) -> bool:
        """Whether the commune's name is in `words`; if so, remove it (its last occurrence)."""
        city = self._city_words[commune.code]
        if not all(words.count(w) >= city.count(w) for w in city):
            return False
        for word in reversed(city):
            del words[len(words) - 1 - words[::-1].index(word)]
        return True

    def _street_results(
        self,
        communes: list[Commune],
        words: list[str],
        number: str | None,
        located: bool,
    ) -> list[Result]:
        if not words:
            return []
        asked = _weights(words)
        asked_total = sum(asked.values())
        results = []
        for commune in communes:
            for indexed in self._streets[commune.code].values():
                similarity = _similarity(asked, asked_total, indexed)
                if similarity >= _MIN_SIMILARITY:
                    score = (0.35 + 0.62 * similarity) * (1.0 if located else 0.8)
                    results.append(_result(indexed, number, score))
        return results


def _similarity(
    asked: dict[str, float], asked_total: float, indexed: _IndexedStreet
) -> float:
    """Weighted F1 of the words in common; 0 unless a meaningful word is shared."""
    common, meaningful = 0.0, False
    for word, weight in asked.items():
        known = indexed.weights.get(word)
        if known is not None:
            common += min(weight, known)
            meaningful = meaningful or (
                word not in STOP_WORDS and word not in STREET_KINDS
            )
    if not meaningful:
        return 0.0
    precision, recall = common / asked_total, common / indexed.total
    return 2 * precision * recall / (precision + recall)


def _result(indexed: _IndexedStreet, number: str | None, score: float) -> Result:
    street, commune = indexed.street, indexed.commune
    if not street.kind:
        return Result("locality", round(score, 4), commune, street)
    if number in indexed.numbers:
        return Result("housenumber", round(score, 4), commune, street, number)
    penalty = 0.75 if number else 1.0
    return Result("street", round(score * penalty, 4), commune, street)
