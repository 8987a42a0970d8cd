"""Household money: a simplified French income tax (shares, scale, décote) and the CAF's
quotient familial. Close enough to the 2025 rules for plausible figures; not a calculator.
"""

from __future__ import annotations

import math

# (upper bound of the bracket per share, marginal rate)
_BRACKETS = (
    (11_497, 0.0),
    (29_315, 0.11),
    (83_823, 0.30),
    (180_294, 0.41),
    (math.inf, 0.45),
)
# Below this amount, the tax is not collected (montTotIr absent: not taxable).
COLLECTION_THRESHOLD = 61


def shares(couple: bool, children: int, single_parent: bool = False) -> float:
    """Nombre de parts: 1 or 2, +0.5 for each of the first two children, +1 for each other."""
    base = 2.0 if couple else 1.0
    child_shares = 0.5 * min(children, 2) + 1.0 * max(children - 2, 0)
    bonus = 0.5 if single_parent and children and not couple else 0.0
    return base + child_shares + bonus


def income_tax(taxable_income: int, parts: float, couple: bool) -> int:
    """Impôt sur le revenu after the décote (the reduction for small amounts)."""
    gross = round(_scale(taxable_income / parts) * parts)
    ceiling, allowance = (3_249, 1_470) if couple else (1_964, 889)
    if gross < ceiling:
        gross = max(0, gross - max(0, round(allowance - 0.4525 * gross)))
    return gross


def _scale(income_per_share: float) -> float:
    tax, floor = 0.0, 0.0
    for ceiling, rate in _BRACKETS:
        if income_per_share > floor:
            tax += (min(income_per_share, ceiling) - floor) * rate
        floor = ceiling
    return tax


def collected(tax: int) -> int | None:
    """The amount collected (montTotIr), None when under the collection threshold."""
    return tax if tax >= COLLECTION_THRESHOLD else None


def family_quotient(income: int, parts: float) -> int:
    """The CAF's quotient familial: a twelfth of the resources (net of allowances) per share."""
    return max(0, round(income * 0.56 / 12 / parts))
