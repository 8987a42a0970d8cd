"""Whether free text carries a personal identifier: a run of digits as long as a fiscal
number or a NIR, or a full calendar date. Purposes, request ids, operation names and logged
paths are checked with it (they are written to the audit and the logs)."""

from __future__ import annotations

import re
import unicodedata

# Digits with separators between them: "3000000000011", "30 00 00 00 00 011", "30.00-00".
DIGIT_RUN = re.compile(r"\d+(?:[\s._/-]+\d+)*")
YEAR_RANGE = re.compile(r"(?:19|20)\d\d[\s._/-]+(?:19|20)\d\d")  # "2025-2026"
NUMERIC_DATE = re.compile(
    r"(?<!\d)(?:\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))(?!\d)"
)
MONTHS = (
    "janvier|janv|f[ée]vrier|f[ée]vr|mars|avril|avr|mai|juin|juillet|juil|ao[uû]t|"
    "septembre|sept|octobre|oct|novembre|nov|d[ée]cembre|d[ée]c|"
    "january|jan|february|feb|march|mar|april|apr|may|june|jun|july|jul|august|aug|"
    "september|sep|october|november|december"
)
WORDED_DATE = re.compile(
    # Separators folded to "-" or spaces, or none at all: "14-mars-1984", "14mars1984".
    rf"(?<!\d)\d{{1,2}}(?:er|st|nd|rd|th)?[\s-]*(?:{MONTHS})[\s-]*(?:\d{{4}}|\d{{2}})(?!\d)"
    rf"|\b(?:{MONTHS})[\s-]*\d{{1,2}}(?:st|nd|rd|th)?[\s-]+(?:\d{{4}}|\d{{2}})(?!\d)",
    re.IGNORECASE,
)


def carries_identifier(text: str) -> bool:
    """A run of 8 or more digits (a year range aside) or a full calendar date.

    Compatibility forms are folded first and invisible characters dropped, and any character
    that is neither a letter, a digit nor a space separates like a dash, so that
    "3,000,000,000,011", "3000\u2011000" or a zero-width space hide nothing.
    """
    text = _folded(text)
    for run in DIGIT_RUN.finditer(text):
        digits = sum(c.isdigit() for c in run.group())
        if digits >= 8 and not YEAR_RANGE.fullmatch(run.group()):
            return True
    return bool(NUMERIC_DATE.search(text) or WORDED_DATE.search(text))


def _folded(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        c if c.isalnum() or c.isspace() else "-"
        for c in folded
        if unicodedata.category(c) != "Cf"
    )
