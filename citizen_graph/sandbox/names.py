"""The invented vocabulary: obviously fictitious surnames, ordinary given names, invented streets,
localities and institutions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Surnames are built from words meaning "fake" so that no real person can ever be matched.

_SURNAME_ROOTS = (
    "FICTIF", "EXEMPLE", "TESTEUR", "FACTICE", "SIMULE", "BIDON", "MAQUETTE", "MODELE",
    "ESSAI", "PROTOTYPE", "FANTOME", "LEURRE", "POSTICHE", "FEINTE", "SPECIMEN",
    "CHIMERE", "MIRAGE", "PASTICHE", "BROUILLON", "ERSATZ", "CANULAR", "SIMILI",
    "PLACEBO", "FABLE",
)  # fmt: skip
_SURNAME_ENDINGS = (
    "",
    "AU",
    "ET",
    "IN",
    "ON",
    "IER",
    "AUD",
    "OT",
    "ARD",
    "EL",
    "AN",
    "OUX",
)


def _surname(root: str, ending: str) -> str:
    if ending and root.endswith("E") and ending[0] in "AEIOU":
        root = root[:-1]
    return root + ending


SURNAMES: tuple[str, ...] = tuple(
    _surname(root, ending) for root in _SURNAME_ROOTS for ending in _SURNAME_ENDINGS
)

FEMALE_GIVEN_NAMES = (
    "MARIE", "CAMILLE", "LEA", "CHLOE", "EMMA", "MANON", "SARAH", "JULIE", "LAURA",
    "PAULINE", "CLAIRE", "ANNE", "SOPHIE", "NATHALIE", "ISABELLE", "CELINE", "AURELIE",
    "EMILIE", "LUCIE", "INES", "JADE", "LOUISE", "ALICE", "ZOE", "CHARLOTTE", "MATHILDE",
    "ELODIE", "SANDRINE", "VALERIE", "CATHERINE", "MONIQUE", "FRANCOISE", "JEANNE",
    "HELENE", "AGATHE", "CLARA", "ROSE", "NINA", "MARGAUX", "LOLA",
)  # fmt: skip
MALE_GIVEN_NAMES = (
    "JEAN", "PIERRE", "PAUL", "LOUIS", "HUGO", "LUCAS", "THOMAS", "NICOLAS", "JULIEN",
    "ANTOINE", "MAXIME", "ALEXANDRE", "PHILIPPE", "MICHEL", "ALAIN", "PATRICK",
    "FRANCOIS", "LAURENT", "OLIVIER", "DAVID", "ARTHUR", "GABRIEL", "RAPHAEL", "LEO",
    "JULES", "ADAM", "ETHAN", "NATHAN", "THEO", "MATHIEU", "SEBASTIEN", "GUILLAUME",
    "VINCENT", "BERNARD", "ANDRE", "MARC", "YVES", "BAPTISTE", "SIMON", "NOE",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Street:
    """A street, or a locality (lieu-dit) when `kind` is empty."""

    code: str  # the 4-character street code of BAN ids
    kind: str  # "Rue", "Avenue", … ; "" for a lieu-dit
    body: str  # "des Exemples"

    @property
    def name(self) -> str:
        """As BAN writes it: "Rue des Exemples", "Le Simulacre"."""
        return f"{self.kind} {self.body}" if self.kind else self.body


# BAN spelling of each street kind → DGFiP's abbreviation.
STREET_KIND_ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {
        "Rue": "R",
        "Avenue": "AV",
        "Boulevard": "BD",
        "Place": "PL",
        "Chemin": "CHE",
        "Impasse": "IMP",
        "Allée": "ALL",
        "Route": "RTE",
    }
)

_STREETS = (
    ("Rue", "des Exemples"), ("Allée", "des Fictions"), ("Impasse", "du Simulacre"),
    ("Avenue", "de l'Imaginaire"), ("Boulevard", "des Chimères"),
    ("Place", "de la Maquette"), ("Chemin", "des Faux-Semblants"),
    ("Route", "du Prototype"), ("Rue", "du Brouillon"), ("Rue", "Sainte-Fiction"),
    ("Rue", "Saint-Exemple"), ("Avenue", "des Illusions"), ("Rue", "des Leurres"),
    ("Impasse", "des Mirages"), ("Allée", "du Trompe-l'Œil"),
    ("Boulevard", "du Factice"), ("Place", "des Songes"), ("Chemin", "de la Feinte"),
    ("Rue", "de l'Ersatz"), ("Rue", "des Spécimens"), ("Avenue", "du Modèle"),
    ("Rue", "des Essais"), ("Impasse", "de la Copie"), ("Allée", "des Hypothèses"),
    ("Rue", "du Postiche"), ("Route", "des Apparences"), ("Rue", "de la Contrefaçon"),
    ("Place", "du Pastiche"), ("Boulevard", "de l'Utopie"), ("Chemin", "des Lubies"),
    ("Rue", "des Fantaisies"), ("Avenue", "de la Fable"), ("Rue", "du Canular"),
    ("Impasse", "des Présomptions"), ("Allée", "de la Parodie"),
    ("Rue", "de la Supposition"), ("Rue", "Saint-Placebo"), ("Rue", "du Maquettiste"),
    ("Avenue", "des Échantillons"), ("Chemin", "du Simili"),
)  # fmt: skip

STREETS: tuple[Street, ...] = tuple(
    Street(f"{9000 + i:04d}", kind, body) for i, (kind, body) in enumerate(_STREETS)
)

LOCALITIES: tuple[Street, ...] = tuple(
    Street(f"{9800 + i:04d}", "", body)
    for i, body in enumerate(
        ("Le Simulacre", "Les Fictions Hautes", "La Maquette Basse", "Le Faux Hameau",
         "La Chimère", "Les Songes", "Le Mirage", "La Feinte")
    )
)  # fmt: skip

# Address complements, "{n}" replaced by a small number.
COMPLEMENTS = ("APPARTEMENT {n}", "BATIMENT {letter}", "ESCALIER {n}")


@dataclass(frozen=True, slots=True)
class Institution:
    uai: str  # unité administrative immatriculée
    name: str
    commune_code: str  # COG code of the place of study


INSTITUTIONS: tuple[Institution, ...] = (
    Institution("0359999X", "Université Fictive de Rennes", "35238"),
    Institution("0359998W", "École Imaginaire d'Ingénieurs de Rennes", "35238"),
    Institution("0699999Z", "Université Fictive de Lyon", "69387"),
    Institution("0699998Y", "Institut Simulé des Sciences de Lyon", "69383"),
    Institution("0759999H", "Université Fictive de Paris", "75115"),
    Institution("0759998G", "École Factice de Commerce de Paris", "75111"),
    Institution("0139999A", "Université Fictive de Marseille", "13201"),
    Institution("0319999S", "Université Fictive de Toulouse", "31555"),
    Institution("0449999L", "Université Fictive de Nantes", "44109"),
    Institution("0679999C", "Université Fictive de Strasbourg", "67482"),
    Institution("0349999T", "Université Fictive de Montpellier", "34172"),
    Institution("0339999P", "Université Fictive de Bordeaux", "33063"),
    Institution("0599999V", "Université Fictive de Lille", "59350"),
    Institution("0389999J", "Université Fictive de Grenoble", "38185"),
    Institution("0639999R", "Université Fictive de Clermont-Ferrand", "63113"),
)
