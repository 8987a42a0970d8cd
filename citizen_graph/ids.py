"""Opaque, stable `Citizen.id`s: the citizen's keys under deterministic authenticated encryption.

AES-SIV (RFC 5297, from `cryptography`) gives the three properties the id needs: it resolves back
to the keys (federation's `_entities` fetches a Citizen by id), discloses none of them, and is the
same for the same keys. The key comes from `server.id_secret` by HKDF-SHA-256.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from citizen_graph.errors import BadUserInput
from citizen_graph.records import CitizenKey, PivotIdentity

# The prefix names the format, so that a later one (another key, another cipher) can be told
# apart; bumping it means bumping HKDF_INFO too.
VERSION = "v1."
HKDF_INFO = b"citizen-graph/citizen-id/v1"
KEY_BYTES = 64  # AES-256-SIV: one half keys S2V (the synthetic IV), the other CTR


class CitizenIdCodec:
    def __init__(self, secret: str) -> None:
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=HKDF_INFO
        )
        self._siv = AESSIV(hkdf.derive(secret.encode()))

    def encode(self, key: CitizenKey) -> str:
        plain = json.dumps(_to_json(key), separators=(",", ":"), sort_keys=True)
        return VERSION + _b64(self._siv.encrypt(plain.encode(), None))

    def decode(self, citizen_id: str) -> CitizenKey:
        try:
            return _from_json(json.loads(self._siv.decrypt(_token(citizen_id), None)))
        except (InvalidTag, ValueError, TypeError, KeyError):
            raise BadUserInput("Unknown citizen id.") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(citizen_id: str) -> bytes:
    """The ciphertext of a well-formed id; ValueError for anything else."""
    if not isinstance(citizen_id, str) or not citizen_id.startswith(VERSION):
        raise ValueError("not a citizen id")
    text = citizen_id.removeprefix(VERSION)
    token = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(token) != text:  # one spelling per id: no stray characters or padding bits
        raise ValueError("not a citizen id")
    return token


def _to_json(key: CitizenKey) -> dict[str, Any]:
    out: dict[str, Any] = {"f": key.fiscal_number}
    if key.identity is not None:
        i = key.identity
        out["i"] = [
            i.birth_name,
            list(i.given_names),
            i.birth_date.isoformat(),
            i.sex,
            i.birth_country_code,
            i.birth_place_code,
            i.usage_name,
        ]
    return out


def _from_json(data: dict[str, Any]) -> CitizenKey:
    identity = None
    if "i" in data:
        name, given, born, sex, country, place, usage = data["i"]
        identity = PivotIdentity(
            birth_name=name,
            given_names=tuple(given),
            birth_date=datetime.date.fromisoformat(born),
            sex=sex,
            birth_country_code=country,
            birth_place_code=place,
            usage_name=usage,
        )
    return CitizenKey(fiscal_number=data["f"], identity=identity)
