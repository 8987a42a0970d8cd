"""The simulated population: the fixed citizens, then the generated households,
and their indexes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import NamedTuple

from citizen_graph.sandbox.fixed import fixed_households, fixed_studies
from citizen_graph.sandbox.generator import Generator, IdentityKey
from citizen_graph.sandbox.people import Household, Person, Study
from citizen_graph.sandbox.text import name_key

# Built once per app from a seed; read-only afterwards. See `fixed.py` for the fixed citizens and
# `magic.py` for the values that trigger upstream errors.

KNOWN_BY = ("dgfip", "cnaf", "msa", "mesri")
_FIRST_GENERATED_FILE = 100


class Resident(NamedTuple):
    """A declarant and the tax household they belong to."""

    person: Person
    household: Household


@dataclass(frozen=True, slots=True)
class IdentityQuery:
    """What an identity-keyed upstream matches on; date parts may be missing."""

    birth_name: str
    first_given_name: str
    sex: str
    year: int | None = None
    month: int | None = None
    day: int | None = None

    def accepts(self, born: datetime.date) -> bool:
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.year, born.year),
                (self.month, born.month),
                (self.day, born.day),
            )
        )


class Population:
    def __init__(self, households: list[Household], studies: dict[str, Study]) -> None:
        self.households = households
        self.studies = studies
        self.residents = [Resident(p, h) for h in households for p in h.declarants]
        self._by_fiscal_number = {r.person.fiscal_number: r for r in self.residents}
        self._by_identity: dict[tuple[str, str, str], list[Resident]] = {}
        self._catalogues: dict[str | None, list[Resident]] = {}  # filled on first use
        for resident in self.residents:
            key = _identity_key(resident.person)
            self._by_identity.setdefault(key, []).append(resident)

    @classmethod
    def generate(cls, seed: int, households: int) -> Population:
        fixed = fixed_households()
        spis = {p.fiscal_number or "" for h in fixed for p in h.declarants}
        identities: set[IdentityKey] = {
            (p.birth_name, p.first_given_name, p.birth_date.toordinal(), p.sex)
            for h in fixed
            for p in (*h.declarants, *h.children)
        }
        generator = Generator(seed, spis, identities)
        generated = generator.households(
            max(0, households - len(fixed)), _FIRST_GENERATED_FILE
        )
        return cls(fixed + generated, fixed_studies() | generator.studies)

    def resident(self, fiscal_number: str) -> Resident | None:
        return self._by_fiscal_number.get(fiscal_number)

    def find(self, query: IdentityQuery) -> list[Resident]:
        key = (
            name_key(query.birth_name),
            _first_word(query.first_given_name),
            query.sex,
        )
        candidates = self._by_identity.get(key, [])
        return [r for r in candidates if query.accepts(r.person.birth_date)]

    def known_by(self, resident: Resident) -> tuple[str, ...]:
        sources = {"dgfip", resident.household.family_file}
        if resident.person.fiscal_number in self.studies:
            sources.add("mesri")
        return tuple(s for s in KNOWN_BY if s in sources)

    def catalogue(self, known_by: str | None = None) -> list[Resident]:
        """The declarants, fixed citizens first, optionally only those a source knows."""
        cached = self._catalogues.get(known_by)
        if cached is None:
            cached = [
                r for r in self.residents if known_by in (None, *self.known_by(r))
            ]
            self._catalogues[known_by] = cached
        return cached


def _identity_key(person: Person) -> tuple[str, str, str]:
    return (
        name_key(person.birth_name),
        _first_word(person.first_given_name),
        person.sex,
    )


def _first_word(given_name: str) -> str:
    folded = name_key(given_name)
    return folded.split(" ", 1)[0]
