"""Citizen is an Apollo Federation v2 entity: `_entities` resolves it by id."""

from tests.conftest import ALICE, ALICE_IDENTITY, GatewayClient

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Citizen { id identity { birthName } familyQuotient { provider } } } }"""


def test_entities_resolve_a_citizen_by_its_id(gateway: GatewayClient) -> None:
    found = gateway.query(
        """query($f: String, $i: PivotIdentityInput) {
          citizen(fiscalNumber: $f, identity: $i) { id } }""",
        {"f": ALICE, "i": ALICE_IDENTITY},
    )
    citizen_id = found["data"]["citizen"]["id"]
    result = gateway.query(
        ENTITIES, {"r": [{"__typename": "Citizen", "id": citizen_id}]}
    )
    [entity] = result["data"]["_entities"]
    assert entity == {
        "id": citizen_id,
        "identity": {"birthName": "FICTIF"},
        "familyQuotient": {"provider": "CNAF"},
    }


def test_an_unknown_entity_id_is_bad_user_input(gateway: GatewayClient) -> None:
    result = gateway.query(ENTITIES, {"r": [{"__typename": "Citizen", "id": "forged"}]})
    assert result["data"]["_entities"] == [None]
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_service_sdl_declares_the_citizen_key(gateway: GatewayClient) -> None:
    sdl = gateway.query("{ _service { sdl } }")["data"]["_service"]["sdl"]
    assert 'type Citizen @key(fields: "id")' in sdl


def test_malformed_representations_are_bad_user_input_at_their_index(
    gateway: GatewayClient,
) -> None:
    representations = [
        {"__typename": "TaxNotice", "id": "x"},
        {"id": "x"},
        {"__typename": "Citizen", "id": "x", "fiscalNumber": ALICE},
    ]
    result = gateway.query(ENTITIES, {"r": representations})
    assert result["data"]["_entities"] == [None, None, None]
    assert [(e["extensions"]["code"], e["path"]) for e in result["errors"]] == [
        ("BAD_USER_INPUT", ["_entities", n]) for n in range(3)
    ]
