"""Resolvers of the Citizen's fields: key from the parent → loader → schema leaf type."""

from __future__ import annotations

import datetime
from typing import Protocol

import strawberry

from citizen_graph.context import Info
from citizen_graph.errors import (
    BadUserInput,
    MissingKey,
    NotFound,
    UpstreamUnavailable,
)
from citizen_graph.records import CitizenKey, PivotIdentity, TaxHistory
from citizen_graph.schema.address import Address
from citizen_graph.schema.family import FamilyQuotient
from citizen_graph.schema.identity import Identity
from citizen_graph.schema.student import StudentStatus
from citizen_graph.schema.tax import TaxNotice

# Resolvers never build URLs, read upstream JSON or check roles. Each upstream-backed field
# awaits only the loaders it needs, so independent upstreams run side by side and the address
# chains after the DGFiP notice that holds it.

QUOTIENT_HISTORY_MONTHS = 24  # API Particulier serves up to 24 months back


class HasKey(Protocol):
    key: CitizenKey


def citizen_id(root: HasKey, info: Info) -> strawberry.ID:
    return strawberry.ID(info.context.ids.encode(root.key))


async def identity(root: HasKey, info: Info) -> Identity | None:
    fiscal_number = _fiscal_number(root)
    history = await _history(fiscal_number, info)
    declarant = history.latest.declarant(fiscal_number)
    return Identity.from_record(declarant) if declarant else None


async def tax_notice(
    root: HasKey, info: Info, income_year: int | None = None
) -> TaxNotice | None:
    fiscal_number = _fiscal_number(root)
    if income_year is None:
        return TaxNotice.from_record((await _history(fiscal_number, info)).latest)
    if not 2000 <= income_year < info.context.today.year:
        raise BadUserInput("incomeYear is out of range.")
    situation = await info.context.loaders.tax_situation.load(
        (fiscal_number, income_year)
    )
    return TaxNotice.from_record(situation)


async def address(root: HasKey, info: Info) -> Address | None:
    history = await _history(_fiscal_number(root), info)
    tax_address = history.latest.address
    if tax_address is None:
        return None
    try:
        geocoded = await info.context.loaders.geocode.load(tax_address.label)
    except UpstreamUnavailable as error:  # DGFiP's address still stands
        return Address.without_geocoding(tax_address, error)
    return Address.from_records(tax_address, geocoded)


async def family_quotient(
    root: HasKey, info: Info, year: int | None = None, month: int | None = None
) -> FamilyQuotient | None:
    identity = _identity(root)
    _check_period(year, month, info.context.today)
    record = await info.context.loaders.family_quotient.load((identity, year, month))
    return FamilyQuotient.from_record(record)


async def student_status(root: HasKey, info: Info) -> StudentStatus | None:
    record = await info.context.loaders.student_status.load(_identity(root))
    return StudentStatus.from_record(record, info.context.today)


def _fiscal_number(root: HasKey) -> str:
    if root.key.fiscal_number is None:
        raise MissingKey("This field needs the citizen's fiscalNumber.")
    return root.key.fiscal_number


def _identity(root: HasKey) -> PivotIdentity:
    if root.key.identity is None:
        raise MissingKey("This field needs the citizen's identity.")
    return root.key.identity


async def _history(fiscal_number: str, info: Info) -> TaxHistory:
    history = await info.context.loaders.tax_history.load(fiscal_number)
    if not history.situations:
        raise NotFound("dgfip")
    return history


def _check_period(year: int | None, month: int | None, today: datetime.date) -> None:
    if year is None and month is None:
        return
    if year is None or month is None or not 1 <= month <= 12:
        raise BadUserInput("Give both year and month (1-12), or neither.")
    months_back = (today.year - year) * 12 + today.month - month
    if not 0 <= months_back <= QUOTIENT_HISTORY_MONTHS:
        raise BadUserInput("The family quotient is available for the last 24 months.")
