"""Text folding shared by identity matching and the geocoder."""

from __future__ import annotations

import re
import unicodedata

# Upper case, accents and ligatures removed, punctuation turned into spaces: the way French
# administrations compare names and addresses.

_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


def fold(text: str) -> str:
    """`text` in upper case, without accents or ligatures (punctuation kept)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return text.upper()


def words(text: str) -> list[str]:
    """The folded words of `text`: "Allée de l'Œuf" → ["ALLEE", "DE", "L", "OEUF"]."""
    return _NOT_ALNUM.sub(" ", fold(text)).split()


def name_key(text: str) -> str:
    """A name as administrations compare it: "Le Gall-Hervé" → "LE GALL HERVE"."""
    if text.isascii() and text.isupper() and text.replace(" ", "").isalpha():
        return " ".join(text.split())  # already folded: skip the regular expression
    return " ".join(words(text))
