import base64
import dataclasses
import datetime

import pytest

from citizen_graph.errors import BadUserInput
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.records import CitizenKey, PivotIdentity

KEY = CitizenKey(
    fiscal_number="3000000000011",
    identity=PivotIdentity("FICTIF", ("ALICE",), datetime.date(1984, 3, 14), "F"),
)
CODEC = CitizenIdCodec("secret")


def assert_unknown(codec: CitizenIdCodec, citizen_id: str) -> None:
    with pytest.raises(BadUserInput, match=r"^Unknown citizen id\.$"):
        codec.decode(citizen_id)


def test_id_round_trips_to_the_same_keys() -> None:
    assert CODEC.decode(CODEC.encode(KEY)) == KEY


def test_id_without_an_identity_round_trips() -> None:
    key = CitizenKey(fiscal_number="3000000000011", identity=None)
    assert CODEC.decode(CODEC.encode(key)) == key


def test_id_is_stable_for_the_same_keys() -> None:
    assert CitizenIdCodec("secret").encode(KEY) == CitizenIdCodec("secret").encode(KEY)


def test_distinct_keys_give_distinct_ids() -> None:
    other_number = dataclasses.replace(KEY, fiscal_number="3000000000012")
    no_identity = dataclasses.replace(KEY, identity=None)
    ids = {CODEC.encode(k) for k in (KEY, other_number, no_identity)}
    assert len(ids) == 3


def test_id_carries_the_version_prefix() -> None:
    citizen_id = CODEC.encode(KEY)
    assert citizen_id.startswith("v1.")
    assert "=" not in citizen_id


def test_id_discloses_no_key() -> None:
    citizen_id = CODEC.encode(KEY)
    body = citizen_id.removeprefix("v1.")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    for secret_part in (b"3000000000011", b"FICTIF", b"ALICE", b"1984"):
        assert secret_part not in raw
    assert "3000000000011" not in citizen_id


@pytest.mark.parametrize("position", [3, 10, -1])
def test_tampered_id_is_unknown(position: int) -> None:
    citizen_id = CODEC.encode(KEY)
    index = position % len(citizen_id)
    swapped = "A" if citizen_id[index] != "A" else "B"
    tampered = citizen_id[:index] + swapped + citizen_id[index + 1 :]
    assert_unknown(CODEC, tampered)


def test_truncated_or_padded_id_is_unknown() -> None:
    citizen_id = CODEC.encode(KEY)
    assert_unknown(CODEC, citizen_id[:-1])
    assert_unknown(CODEC, citizen_id + "A")
    assert_unknown(CODEC, citizen_id + "==")


def test_id_from_another_secret_is_unknown() -> None:
    assert_unknown(CitizenIdCodec("other secret"), CODEC.encode(KEY))


def test_id_without_the_version_prefix_is_unknown() -> None:
    citizen_id = CODEC.encode(KEY)
    assert_unknown(CODEC, citizen_id.removeprefix("v1."))
    assert_unknown(CODEC, "v2." + citizen_id.removeprefix("v1."))


@pytest.mark.parametrize(
    "garbage", ["", "v1.", "v1.AAAA", "not-an-id!", "v1.é", "v1." + "A" * 64]
)
def test_malformed_id_is_unknown(garbage: str) -> None:
    assert_unknown(CODEC, garbage)
