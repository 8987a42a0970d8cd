import datetime

import pytest

from citizen_graph.errors import BadUserInput
from citizen_graph.ids import CitizenIdCodec
from citizen_graph.records import CitizenKey, PivotIdentity

KEY = CitizenKey(
    fiscal_number="3000000000011",
    identity=PivotIdentity("FICTIF", ("ALICE",), datetime.date(1984, 3, 14), "F"),
)


def test_id_round_trips_to_the_same_keys() -> None:
    codec = CitizenIdCodec("secret")
    assert codec.decode(codec.encode(KEY)) == KEY


def test_id_is_stable_for_the_same_keys() -> None:
    assert CitizenIdCodec("secret").encode(KEY) == CitizenIdCodec("secret").encode(KEY)


def test_id_discloses_no_key() -> None:
    import base64

    citizen_id = CitizenIdCodec("secret").encode(KEY)
    raw = base64.urlsafe_b64decode(citizen_id + "==")
    assert b"3000000000011" not in raw
    assert b"FICTIF" not in raw
    assert "3000000000011" not in citizen_id


def test_tampered_or_foreign_id_is_bad_user_input() -> None:
    citizen_id = CitizenIdCodec("secret").encode(KEY)
    tampered = ("A" if citizen_id[5] != "A" else "B").join(
        (citizen_id[:5], citizen_id[6:])
    )
    with pytest.raises(BadUserInput):
        CitizenIdCodec("secret").decode(tampered)
    with pytest.raises(BadUserInput):
        CitizenIdCodec("other secret").decode(citizen_id)
    with pytest.raises(BadUserInput):
        CitizenIdCodec("secret").decode("not-an-id!")
