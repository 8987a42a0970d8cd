"""Reading a free-text address the way BAN's engine does, simplified: fold the text, expand the
abbreviations (DGFiP writes "12 R DES EXEMPLES"), drop address complements, and pick out the
house number and the postcode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from citizen_graph.sandbox.text import words

ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "R": "RUE",
        "AV": "AVENUE",
        "AVE": "AVENUE",
        "BD": "BOULEVARD",
        "BLD": "BOULEVARD",
        "PL": "PLACE",
        "CH": "CHEMIN",
        "CHE": "CHEMIN",
        "CHEM": "CHEMIN",
        "IMP": "IMPASSE",
        "ALL": "ALLEE",
        "RTE": "ROUTE",
        "ST": "SAINT",
        "STE": "SAINTE",
    }
)
STOP_WORDS = frozenset(
    {"DE", "DES", "DU", "LA", "LE", "LES", "L", "D", "AU", "AUX", "ET", "EN", "SUR"}
)
STREET_KINDS = frozenset(
    {"RUE", "AVENUE", "BOULEVARD", "PLACE", "CHEMIN", "IMPASSE", "ALLEE", "ROUTE"}
)
# A complement marker and the word after it are not part of the address: "APPARTEMENT 12".
_COMPLEMENT_MARKERS = frozenset(
    {
        "APPARTEMENT",
        "APPT",
        "APT",
        "BATIMENT",
        "BAT",
        "ESCALIER",
        "ESC",
        "ETAGE",
        "PORTE",
    }
)
_LOCALITY_MARKERS = frozenset({"LIEUDIT", "LD"})
_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {"BIS": "bis", "B": "bis", "TER": "ter", "T": "ter", "QUATER": "quater"}
)
_NUMBER = re.compile(r"([0-9]{1,4})(BIS|TER|QUATER|B|T)?")
_POSTCODE = re.compile(r"[0-9]{5}")


@dataclass(frozen=True, slots=True)
class AddressQuery:
    words: tuple[
        str, ...
    ]  # what is left once the number and the postcode are taken out
    housenumber: str | None  # "12", "12bis"
    postcode: str | None


def expand(text: str) -> list[str]:
    """Folded words with abbreviations expanded: "12 R ST EXEMPLE" → 12 RUE SAINT EXEMPLE."""
    expanded = [ABBREVIATIONS.get(w, w) for w in words(text)]
    return _drop_markers(expanded)


def parse(text: str) -> AddressQuery:
    remaining = expand(text)
    postcode = _take_postcode(remaining)
    housenumber = _take_housenumber(remaining)
    return AddressQuery(tuple(remaining), housenumber, postcode)


def stem(word: str) -> str:
    """Plural-insensitive form: EXEMPLES → EXEMPLE, CHATEAUX → CHATEAU."""
    return word[:-1] if len(word) > 3 and word[-1] in "SX" else word


def _drop_markers(tokens: list[str]) -> list[str]:
    kept: list[str] = []
    skip_next = False
    for i, token in enumerate(tokens):
        if skip_next:
            skip_next = False
        elif token in _COMPLEMENT_MARKERS:
            skip_next = True
        elif token in _LOCALITY_MARKERS:
            continue
        elif token == "LIEU" and i + 1 < len(tokens) and tokens[i + 1] == "DIT":
            skip_next = True
        else:
            kept.append(token)
    return kept


def _take_postcode(tokens: list[str]) -> str | None:
    for i in range(len(tokens) - 1, -1, -1):
        if _POSTCODE.fullmatch(tokens[i]):
            return tokens.pop(i)
    return None


def _take_housenumber(tokens: list[str]) -> str | None:
    for i, token in enumerate(tokens):
        match = _NUMBER.fullmatch(token)
        if match is None:
            continue
        del tokens[i]
        number, suffix = str(int(match[1])), match[2]
        if suffix is None and i < len(tokens) and tokens[i] in ("BIS", "TER", "QUATER"):
            suffix = tokens.pop(i)
        return number + (_SUFFIXES[suffix] if suffix else "")
    return None
