"""The fixed citizens: always present, first in the catalogue, one per situation worth testing."""

from __future__ import annotations

import datetime

from citizen_graph.sandbox.names import INSTITUTIONS, LOCALITIES, STREETS, Street
from citizen_graph.sandbox.people import Address, Household, Person, Study
from citizen_graph.sandbox.places import birth_place, commune
from citizen_graph.sandbox.taxes import collected, family_quotient, income_tax, shares

# SPI             | who                                   | what it shows
# ----------------|---------------------------------------|---------------------------------------
# `3000000000011` | ALICE MARIE FICTIF (usage LAMBERT), F | married to PAUL, 2 children, CNAF file
# `3000000000012` | PAUL LAMBERT, M, born in Spain        | same notice as ALICE (couple's 2 SPIs)
# `3000000000021` | CAMILLE TESTEUR, F                    | single, not taxable, enrolled student
# `3000000000031` | JEAN PIERRE FACTICE, M                | divorced, 1 child, MSA, rural lieu-dit
# `3000000000041` | NOE INTROUVABLE, M                    | taxable; BAN does not find his address

D = datetime.date


def _alice_and_paul() -> Household:
    alice = Person(
        "FICTIF",
        "LAMBERT",
        ("ALICE", "MARIE"),
        D(1984, 3, 14),
        "F",
        birth_place("35238"),
        "3000000000011",
    )
    paul = Person(
        "LAMBERT",
        None,
        ("PAUL",),
        D(1982, 11, 2),
        "M",
        birth_place("99134"),
        "3000000000012",
    )
    children = (
        Person("LAMBERT", None, ("LEA",), D(2015, 1, 20), "F", birth_place("35238")),
        Person("LAMBERT", None, ("HUGO",), D(2018, 6, 5), "M", birth_place("35238")),
    )
    address = Address(commune("35238"), STREETS[0], 12)  # 12 Rue des Exemples
    return Household(
        "M",
        (alice, paul),
        children,
        address,
        income=52_110,
        growth=1.03,
        tax=2_410,
        family_file="cnaf",
        family_quotient=812,
        file_number=1,
    )


def _camille() -> Household:
    camille = Person(
        "TESTEUR",
        None,
        ("CAMILLE",),
        D(2004, 6, 1),
        "F",
        birth_place("69123"),
        "3000000000021",
    )
    address = Address(commune("69387"), STREETS[3], 3)  # 3 Avenue de l'Imaginaire
    return Household("C", (camille,), (), address, income=4_200, growth=1.05, tax=None)


def _jean_pierre() -> Household:
    jean_pierre = Person(
        "FACTICE",
        None,
        ("JEAN", "PIERRE"),
        D(1979, 9, 30),
        "M",
        birth_place("15014"),
        "3000000000031",
    )
    child = Person(
        "FACTICE", None, ("ROSE",), D(2012, 4, 18), "F", birth_place("15014")
    )
    address = Address(commune("15120"), LOCALITIES[0], None)  # lieu-dit Le Simulacre
    parts = shares(False, 1, single_parent=True)
    return Household(
        "D",
        (jean_pierre,),
        (child,),
        address,
        income=31_000,
        growth=1.02,
        tax=collected(income_tax(31_000, parts, False)),
        family_file="msa",
        family_quotient=family_quotient(31_000, parts),
        file_number=3,
    )


def _noe() -> Household:
    noe = Person(
        "INTROUVABLE",
        None,
        ("NOE",),
        D(1990, 1, 1),
        "M",
        birth_place("75115"),
        "3000000000041",
    )
    nowhere = Street("9999", "Impasse", "des Nulle Part")
    address = Address(commune("23096"), nowhere, 99, in_ban=False)
    return Household(
        "C",
        (noe,),
        (),
        address,
        income=38_000,
        growth=1.02,
        tax=collected(income_tax(38_000, 1.0, False)),
    )


def fixed_households() -> list[Household]:
    return [_alice_and_paul(), _camille(), _jean_pierre(), _noe()]


def fixed_studies() -> dict[str, Study]:
    """Studies by fiscal number: CAMILLE is enrolled at the Université Fictive de Lyon."""
    lyon = next(i for i in INSTITUTIONS if i.uai == "0699999Z")
    return {"3000000000021": Study(lyon, enrolled=True, regime="RF1")}
