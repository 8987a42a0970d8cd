"""Input types and their validation into the project's records (BAD_USER_INPUT on failure)."""

from __future__ import annotations

import datetime
import re

import strawberry

from citizen_graph.errors import BadUserInput
from citizen_graph.records import CitizenKey, PivotIdentity
from citizen_graph.schema.enums import Sex

FISCAL_NUMBER = re.compile(r"[0-9]{13}")
COG_COUNTRY = re.compile(r"99[0-9]{3}")
COG_COMMUNE = re.compile(r"[0-9][0-9AB][0-9]{3}")
NAME = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*")
FRANCE = "99100"


@strawberry.input(description="The pivot identity used by API Particulier v3.")
class PivotIdentityInput:
    birth_name: str
    usage_name: str | None = None
    given_names: list[str] = strawberry.field(description="1 to 3 given names.")
    birth_date: datetime.date
    sex: Sex
    birth_country_code: str = strawberry.field(
        default=FRANCE, description="INSEE COG country code; France = 99100."
    )
    birth_place_code: str | None = strawberry.field(
        default=None,
        description="INSEE COG commune code; required when born in France.",
    )

    def to_record(self) -> PivotIdentity:
        if not _is_name(self.birth_name) or (
            self.usage_name is not None and not _is_name(self.usage_name)
        ):
            raise BadUserInput("A name of the identity is not valid.")
        if not 1 <= len(self.given_names) <= 3 or not all(
            _is_name(n) for n in self.given_names
        ):
            raise BadUserInput("givenNames must hold 1 to 3 valid given names.")
        if not datetime.date(1900, 1, 1) <= self.birth_date <= datetime.date.today():
            raise BadUserInput("birthDate is out of range.")
        if not COG_COUNTRY.fullmatch(self.birth_country_code):
            raise BadUserInput("birthCountryCode must be an INSEE COG country code.")
        place = self.birth_place_code
        if place is not None and not COG_COMMUNE.fullmatch(place):
            raise BadUserInput("birthPlaceCode must be an INSEE COG commune code.")
        if self.birth_country_code == FRANCE and place is None:
            raise BadUserInput("birthPlaceCode is required when born in France.")
        return PivotIdentity(
            birth_name=self.birth_name.strip().upper(),
            given_names=tuple(n.strip().upper() for n in self.given_names),
            birth_date=self.birth_date,
            sex=self.sex.value,
            birth_country_code=self.birth_country_code,
            birth_place_code=place if self.birth_country_code == FRANCE else None,
            usage_name=self.usage_name.strip().upper() if self.usage_name else None,
        )


@strawberry.input
class CitizenKeyInput:
    fiscal_number: str | None = strawberry.field(
        default=None, description="Numéro fiscal (SPI), 13 digits."
    )
    identity: PivotIdentityInput | None = None

    def to_record(self) -> CitizenKey:
        return citizen_key(self.fiscal_number, self.identity)


def citizen_key(
    fiscal_number: str | None, identity: PivotIdentityInput | None
) -> CitizenKey:
    """Validate a citizen's keys: at least one, each well formed."""
    if fiscal_number is None and identity is None:
        raise BadUserInput("Give a fiscalNumber, an identity, or both.")
    if fiscal_number is not None and not FISCAL_NUMBER.fullmatch(fiscal_number):
        raise BadUserInput("fiscalNumber must be 13 digits.")
    return CitizenKey(
        fiscal_number=fiscal_number,
        identity=identity.to_record() if identity is not None else None,
    )


def _is_name(value: str) -> bool:
    return 0 < len(value) <= 80 and NAME.fullmatch(value.strip()) is not None
