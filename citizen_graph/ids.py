"""Opaque, stable `Citizen.id`s: the citizen's keys under deterministic authenticated encryption.

The id must resolve back to the keys (federation's `_entities` fetches a Citizen by id) without
disclosing them, and be the same for the same keys. HMAC-SHA-256 gives both halves of an SIV
construction from the standard library: the synthetic IV is a MAC of the plaintext, and the
keystream is HMAC in counter mode keyed separately.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from typing import Any

from citizen_graph.errors import BadUserInput
from citizen_graph.records import CitizenKey, PivotIdentity

IV_BYTES = 16


class CitizenIdCodec:
    def __init__(self, secret: str) -> None:
        root = hashlib.sha256(secret.encode()).digest()
        self._mac_key = hmac.new(root, b"citizen-id/mac", hashlib.sha256).digest()
        self._enc_key = hmac.new(root, b"citizen-id/enc", hashlib.sha256).digest()

    def encode(self, key: CitizenKey) -> str:
        plain = json.dumps(
            _to_json(key), separators=(",", ":"), sort_keys=True
        ).encode()
        iv = hmac.new(self._mac_key, plain, hashlib.sha256).digest()[:IV_BYTES]
        token = iv + _xor(plain, self._keystream(iv, len(plain)))
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode()

    def decode(self, citizen_id: str) -> CitizenKey:
        try:
            token = base64.urlsafe_b64decode(citizen_id + "=" * (-len(citizen_id) % 4))
            iv, cipher = token[:IV_BYTES], token[IV_BYTES:]
            plain = _xor(cipher, self._keystream(iv, len(cipher)))
            expected = hmac.new(self._mac_key, plain, hashlib.sha256).digest()[
                :IV_BYTES
            ]
            if len(iv) != IV_BYTES or not hmac.compare_digest(iv, expected):
                raise ValueError
            return _from_json(json.loads(plain))
        except (ValueError, TypeError, KeyError):
            raise BadUserInput("Unknown citizen id.") from None

    def _keystream(self, iv: bytes, length: int) -> bytes:
        blocks = (
            hmac.new(self._enc_key, iv + i.to_bytes(4, "big"), hashlib.sha256).digest()
            for i in range((length + 31) // 32)
        )
        return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


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
