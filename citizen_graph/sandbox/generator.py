"""Generation of fictitious tax households from a seed: the same on every machine, and fast."""

from __future__ import annotations

import datetime
from itertools import accumulate

from citizen_graph.sandbox.draws import Draws
from citizen_graph.sandbox.magic import MAGIC_SPI_PREFIX
from citizen_graph.sandbox.names import (
    COMPLEMENTS,
    FEMALE_GIVEN_NAMES,
    INSTITUTIONS,
    LOCALITIES,
    MALE_GIVEN_NAMES,
    STREETS,
    SURNAMES,
    Institution,
    Street,
)
from citizen_graph.sandbox.people import (
    REFERENCE_DATE,
    Address,
    Household,
    Person,
    Study,
)
from citizen_graph.sandbox.places import (
    COMMUNES,
    FOREIGN_BIRTH_PLACES,
    FRENCH_BIRTH_PLACES,
    BirthPlace,
    Commune,
)
from citizen_graph.sandbox.taxes import collected, family_quotient, income_tax, shares

# Everything is drawn from one seeded generator in a fixed order; identity keys and fiscal numbers
# are kept unique so that every catalogue identity matches exactly one person. The app builds the
# population at every start, so this module favours plain arithmetic on `random()` draws.

IdentityKey = tuple[
    str, str, int, str
]  # birth name, first given name, date ordinal, sex

_KINDS = "MOCDV"  # sitFam codes: married, civil union, single, divorced, widowed
_KIND_WEIGHTS = tuple(accumulate((30, 14, 34, 13, 9)))
_CHILDREN_WEIGHTS = tuple(accumulate((35, 25, 28, 10, 2)))
_COMMUNE_WEIGHTS = tuple(accumulate(c.weight for c in COMMUNES))
_THIS_YEAR = REFERENCE_DATE.year
_LAST_ORDINAL = REFERENCE_DATE.toordinal()


class Generator:
    def __init__(self, seed: int, spis: set[str], identities: set[IdentityKey]) -> None:
        self._draw = Draws(seed)
        self._spis = spis
        self._identities = identities
        self._streets = {c.code: self._streets_of(c) for c in COMMUNES}
        self.studies: dict[str, Study] = {}

    def households(self, count: int, first_file_number: int) -> list[Household]:
        return [self._household(first_file_number + i) for i in range(count)]

    def _streets_of(self, commune: Commune) -> tuple[Street, ...]:
        streets = self._draw.distinct(STREETS, 8 + 4 * commune.weight)
        if commune.rural:
            streets += self._draw.distinct(LOCALITIES, 3)
        return streets

    def _household(self, file_number: int) -> Household:
        draw = self._draw
        kind = draw.weighted(_KINDS, _KIND_WEIGHTS)
        commune = draw.weighted(COMMUNES, _COMMUNE_WEIGHTS)
        declarants: tuple[Person, ...] = (
            self._couple(kind) if kind in "MO" else (self._single(kind),)
        )
        couple = len(declarants) == 2
        children = self._children(declarants, kind)
        parts = shares(couple, len(children), single_parent=not couple)
        income = sum(self._income(p) for p in declarants)
        family_file = self._family_file(commune, bool(children), income)
        self._enrol(declarants, kind, commune)
        return Household(
            kind,
            declarants,
            children,
            self._address(commune),
            income,
            round(1.005 + 0.035 * draw.random(), 4),
            collected(income_tax(income, parts, couple)),
            family_file,
            family_quotient(income, parts) if family_file else 0,
            file_number,
        )

    def _couple(self, kind: str) -> tuple[Person, Person]:
        draw = self._draw
        age = draw.between(22, 85)
        man = self._adult("M", age)
        take_name = draw.chance(0.65 if kind == "M" else 0.15)
        woman_age = max(18, age + draw.between(-6, 4))
        woman = self._adult("F", woman_age, man.birth_name if take_name else None)
        return (man, woman) if draw.chance(0.6) else (woman, man)

    def _single(self, kind: str) -> Person:
        draw = self._draw
        if kind == "C":
            age = draw.between(18, 27) if draw.chance(0.45) else draw.between(28, 80)
        else:
            age = draw.between(30, 75) if kind == "D" else draw.between(58, 92)
        if draw.chance(0.45):
            return self._adult("M", age)
        former_name = kind in "DV" and draw.chance(0.4)
        return self._adult("F", age, draw.pick(SURNAMES) if former_name else None)

    def _adult(self, sex: str, age: int, usage_name: str | None = None) -> Person:
        dice, abroad = divmod(self._draw.dice(), 100)
        dice, surname = divmod(dice, len(SURNAMES))
        places = FOREIGN_BIRTH_PLACES if abroad < 12 else FRENCH_BIRTH_PLACES
        place = places[dice % len(places)]
        name = SURNAMES[surname]
        if usage_name == name:
            usage_name = None
        return self._person(
            name, usage_name, sex, _THIS_YEAR - age - 1, place, self._spi()
        )

    def _person(
        self,
        name: str,
        usage_name: str | None,
        sex: str,
        year: int,
        place: BirthPlace,
        spi: str | None,
    ) -> Person:
        pool = FEMALE_GIVEN_NAMES if sex == "F" else MALE_GIVEN_NAMES
        size = len(pool)
        dice, count = divmod(self._draw.dice(), 20)  # 1, 2 or 3 given names: 45/40/15 %
        dice, first = divmod(dice, size)
        given: tuple[str, ...] = (pool[first],)
        if count >= 9:
            dice, second = divmod(dice, size - 1)
            given += (pool[second + (second >= first)],)
        if count >= 17 and given[1] != pool[(first + 2) % size]:
            given += (pool[(first + 2) % size],)
        january_first = datetime.date(year, 1, 1).toordinal()
        while True:
            dice, day = divmod(dice or self._draw.dice(), 365)
            key = (name, given[0], january_first + day, sex)
            if key[2] <= _LAST_ORDINAL and key not in self._identities:
                self._identities.add(key)
                born = datetime.date.fromordinal(key[2])
                return Person(name, usage_name, given, born, sex, place, spi)

    def _spi(self) -> str:
        while True:
            spi = f"3{int(self._draw.random() * 10**12):012d}"
            if spi not in self._spis and not spi.startswith(MAGIC_SPI_PREFIX):
                self._spis.add(spi)
                return spi

    def _children(self, parents: tuple[Person, ...], kind: str) -> tuple[Person, ...]:
        draw = self._draw
        youngest = max(p.birth_date.year for p in parents)
        first_year = max(_THIS_YEAR - 17, youngest + 20)
        if first_year > _THIS_YEAR or kind == "V":
            return ()
        if kind == "C" and not draw.chance(0.12):
            return ()
        count = draw.weighted(range(5), _CHILDREN_WEIGHTS)
        if kind in "CD":
            count = min(count, 2)
        name = parents[0].birth_name
        if parents[0].sex == "F" and len(parents) == 2:
            name = parents[1].birth_name
        return tuple(self._child(name, first_year) for _ in range(count))

    def _child(self, name: str, first_year: int) -> Person:
        draw = self._draw
        sex = "F" if draw.chance(0.5) else "M"
        year = draw.between(first_year, _THIS_YEAR)
        return self._person(name, None, sex, year, draw.pick(FRENCH_BIRTH_PLACES), None)

    def _income(self, person: Person) -> int:
        draw = self._draw
        age = _THIS_YEAR - person.birth_date.year
        if age <= 25 and draw.chance(0.8):
            return draw.between(0, 9_000)
        if age >= 65:
            return round(draw.lognormal(21_000, 0.45))
        if draw.chance(0.12):
            return draw.between(0, 12_000)
        return round(draw.lognormal(25_000, 0.55))

    def _family_file(self, commune: Commune, children: bool, income: int) -> str | None:
        draw = self._draw
        if commune.rural and draw.chance(0.45):
            return "msa" if children or draw.chance(0.2) else None
        if children:
            return "cnaf" if draw.chance(0.85) else None
        return "cnaf" if draw.chance(0.3 if income < 15_000 else 0.06) else None

    def _address(self, commune: Commune) -> Address:
        draw = self._draw
        street = draw.pick(self._streets[commune.code])
        if not street.kind:
            return Address(commune, street, None)
        roll = draw.random()
        suffix = "BIS" if roll < 0.04 else "TER" if roll < 0.055 else ""
        complement = None
        if draw.chance(0.2):
            template = draw.pick(COMPLEMENTS)
            number, letter = draw.between(1, 40), draw.pick("ABCDE")
            complement = template.format(n=number, letter=letter)
        return Address(commune, street, draw.between(1, 80), suffix, complement)

    def _enrol(
        self, declarants: tuple[Person, ...], kind: str, commune: Commune
    ) -> None:
        draw = self._draw
        for person in declarants:
            age = _THIS_YEAR - person.birth_date.year
            young_single = kind == "C" and age <= 27
            chance = 0.7 if young_single else 0.02 if 22 <= age <= 45 else 0.0
            if person.fiscal_number and draw.chance(chance):
                self.studies[person.fiscal_number] = self._study(commune, young_single)

    def _study(self, commune: Commune, young: bool) -> Study:
        draw = self._draw
        nearby = [i for i in INSTITUTIONS if i.commune_code[:2] == commune.department]
        institution = draw.pick(nearby or INSTITUTIONS)
        previous: Institution | None = None
        if draw.chance(0.4):
            previous = institution if draw.chance(0.7) else draw.pick(INSTITUTIONS)
        regime = ("RF1" if draw.chance(0.9) else "RF3") if young else "RF2"
        return Study(institution, draw.chance(0.88), regime, previous)
