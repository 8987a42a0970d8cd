"""Reading free-text addresses: abbreviations, complements, house numbers and postcodes."""

from __future__ import annotations

import pytest

from citizen_graph.sandbox.address_query import expand, parse
from citizen_graph.sandbox.text import name_key, words


def test_words_are_folded_without_accents_or_ligatures() -> None:
    assert words("Allée du Trompe-l'Œil") == ["ALLEE", "DU", "TROMPE", "L", "OEIL"]
    assert name_key("  Le Gall-Hervé ") == "LE GALL HERVE"


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("R DES EXEMPLES", ["RUE", "DES", "EXEMPLES"]),
        ("AV DE L IMAGINAIRE", ["AVENUE", "DE", "L", "IMAGINAIRE"]),
        ("BD DU FACTICE", ["BOULEVARD", "DU", "FACTICE"]),
        ("CHEM DES LUBIES", ["CHEMIN", "DES", "LUBIES"]),
        ("R STE FICTION", ["RUE", "SAINTE", "FICTION"]),
        ("LIEU DIT LE SIMULACRE", ["LE", "SIMULACRE"]),
        ("APPARTEMENT 12 IMP DE LA COPIE", ["IMPASSE", "DE", "LA", "COPIE"]),
    ],
)
def test_abbreviations_are_expanded_and_complements_dropped(
    text: str, expanded: list[str]
) -> None:
    assert expand(text) == expanded


@pytest.mark.parametrize(
    ("text", "housenumber"),
    [
        ("12 R DES EXEMPLES 35000 RENNES", "12"),
        ("12 BIS R DES EXEMPLES 35000 RENNES", "12bis"),
        ("12ter rue des exemples", "12ter"),
        ("BATIMENT B 7 ALL DES FICTIONS", "7"),
        ("rue des exemples 35000 rennes", None),
    ],
)
def test_house_number_and_postcode_are_taken_out(
    text: str, housenumber: str | None
) -> None:
    query = parse(text)
    assert query.housenumber == housenumber
    assert "EXEMPLES" in query.words or "FICTIONS" in query.words
    assert not any(w.isdigit() for w in query.words)
