"""The schema's enumerations."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Sex(Enum):
    F = "F"
    M = "M"


@strawberry.enum
class BenefitProvider(Enum):
    CNAF = "CNAF"
    MSA = "MSA"


@strawberry.enum
class FamilySituation(Enum):
    SINGLE = "SINGLE"
    MARRIED = "MARRIED"
    CIVIL_UNION = "CIVIL_UNION"
    DIVORCED = "DIVORCED"
    WIDOWED = "WIDOWED"
