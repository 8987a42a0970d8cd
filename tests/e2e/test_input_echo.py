"""No input value comes back in an error: every scalar and input type, fed values holding a
fiscal number and a name, inline and as variables, wrong types and malformed values alike."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, validate

from citizen_graph.schema import build_schema
from citizen_graph.schema.errors import contract_error, schema_names
from tests.conftest import (
    ALICE,
    ALICE_IDENTITY,
    GatewayClient,
)

SECRETS = (ALICE, "FICTIF", "ALICE")
VALUE = f"x{ALICE} FICTIF ALICE"
DATE = f"1984-03-14 FICTIF ALICE {ALICE}"
# Not ALICE's, so that a name can only come back from the value under test.
IDENTITY_LITERAL = {
    "birthName": '"LAMBERT"',
    "givenNames": '["MARIE"]',
    "birthDate": '"1984-03-14"',
    "sex": "F",
    "birthPlaceCode": '"35238"',
}


def identity(**change: Any) -> dict[str, Any]:
    """ALICE's identity as a variable's value, with one field changed."""
    return {**ALICE_IDENTITY, **change}


def identity_literal(**change: str) -> str:
    """An inline identity with one field changed (given as GraphQL literal text)."""
    fields = {**IDENTITY_LITERAL, **change}
    return f"identity: {{{', '.join(f'{k}: {v}' for k, v in fields.items())}}}"


CITIZEN = "{ citizen(%s) { identity { birthName } } }"
NOTICE = '{ citizen(fiscalNumber: "3000000000099") { taxNotice(incomeYear: %s) { shares } } }'
QUOTIENT = (
    '{ citizen(fiscalNumber: "3000000000099") '
    "{ familyQuotient(year: %s, month: 1) { value } } }"
)
KEYS = "{ citizens(keys: %s) { id } }"
ENTITIES = "{ _entities(representations: %s) { __typename } }"
INCLUDE = "{ viewer { role @include(if: %s) } }"

INLINE: dict[str, str] = {
    # String
    "string-given-an-int": CITIZEN % f"fiscalNumber: {ALICE}",
    "string-given-a-float": CITIZEN % f"fiscalNumber: {ALICE}.5",
    "string-given-an-enum": CITIZEN % "fiscalNumber: FICTIF",
    "string-given-a-list": CITIZEN % f'fiscalNumber: ["{VALUE}"]',
    "string-given-an-object": CITIZEN % f'fiscalNumber: {{FICTIF: "{ALICE}"}}',
    "string-malformed-fiscal-number": CITIZEN % f'fiscalNumber: "{VALUE}"',
    "string-block-string": CITIZEN % f'fiscalNumber: """{VALUE}"""',
    "string-with-an-escape": CITIZEN % f'fiscalNumber: "FICTIF\\u0041\\"{ALICE}"',
    # Int
    "int-given-a-string": NOTICE % f'"{VALUE}"',
    "int-out-of-range": NOTICE % ALICE,
    "int-given-a-float": NOTICE % f"{ALICE}.5",
    "int-given-an-enum": NOTICE % "FICTIF",
    "int-given-an-object": NOTICE % f"{{ALICE: {ALICE}}}",
    "int-of-a-quotient": QUOTIENT % f"[{ALICE}, ALICE]",
    # Boolean (a directive's argument)
    "boolean-given-a-string": INCLUDE % f'"{VALUE}"',
    "boolean-given-an-int": INCLUDE % ALICE,
    "boolean-given-an-enum": INCLUDE % "FICTIF",
    # Date
    "date-malformed": CITIZEN % identity_literal(birthDate=f'"x{ALICE}"'),
    "date-with-a-name": CITIZEN % identity_literal(birthDate=f'"{DATE}"'),
    "date-given-an-int": CITIZEN % identity_literal(birthDate=ALICE),
    "date-given-an-enum": CITIZEN % identity_literal(birthDate="FICTIF"),
    "date-given-a-list": CITIZEN % identity_literal(birthDate=f'["{DATE}"]'),
    # Sex
    "enum-unknown-value": CITIZEN % identity_literal(sex="FICTIF"),
    "enum-given-a-string": CITIZEN % identity_literal(sex=f'"{VALUE}"'),
    # PivotIdentityInput
    "identity-unknown-field": CITIZEN % identity_literal(FICTIF=ALICE),
    "identity-name-given-an-int": CITIZEN % identity_literal(usageName=ALICE),
    "identity-given-names-of-ints": CITIZEN
    % identity_literal(givenNames=f"[{ALICE}, FICTIF]"),
    "identity-country-given-an-enum": CITIZEN
    % identity_literal(birthCountryCode="ALICE"),
    "identity-malformed-name": CITIZEN
    % identity_literal(usageName=f'"{ALICE} FICTIF"'),
    "identity-given-a-string": CITIZEN % f'identity: "{VALUE}"',
    "identity-missing-fields": CITIZEN % f'identity: {{birthName: "{VALUE}"}}',
    # CitizenKeyInput
    "keys-given-a-string": KEYS % f'"{VALUE}"',
    "keys-unknown-field": KEYS % f'[{{FICTIF: "{ALICE}"}}]',
    "keys-fiscal-number-given-an-int": KEYS % f"[{{fiscalNumber: {ALICE}}}]",
    "keys-malformed-fiscal-number": KEYS % f'[{{fiscalNumber: "{VALUE}"}}]',
    "keys-null": KEYS % "[null]",
    # _Any
    "any-unknown-typename": ENTITIES % f'[{{__typename: "FICTIF", id: "{ALICE}"}}]',
    "any-a-string": ENTITIES % f'["{VALUE}"]',
    "any-an-int": ENTITIES % f"[{ALICE}]",
    "any-an-enum": ENTITIES % "[FICTIF]",
    # Names the caller chose, and malformed documents
    "unknown-argument": CITIZEN % f"FICTIF: {ALICE}",
    "unknown-field": "{ FICTIF ALICE }",
    "unknown-directive": "{ viewer { role @FICTIF } }",
    "unknown-fragment": "{ viewer { ...ALICE } }",
    "unknown-type-condition": "{ viewer { ... on FICTIF { role } } }",
    "unterminated-string": f'{{ citizen(fiscalNumber: "{VALUE}) {{ id }} }}',
    "invalid-number": f"{{ citizen(fiscalNumber: {ALICE}FICTIF) {{ id }} }}",
    "unexpected-name": f"{{ viewer {{ role }} }} FICTIF {ALICE}",
    "unexpected-character": f'{{ viewer {{ role }} }} \u00a7"FICTIF {ALICE}',
    "default-of-a-variable": f'query($d: Date = "x{ALICE}") {{ viewer {{ role }} }}',
}

BY_VARIABLE: dict[str, tuple[str, str, Any]] = {
    # name: (variable type, where it is used, value)
    "string-given-an-int": ("String", CITIZEN % "fiscalNumber: $v", int(ALICE)),
    "string-given-a-float": ("String", CITIZEN % "fiscalNumber: $v", int(ALICE) + 0.5),
    "string-given-a-boolean": ("String", CITIZEN % "fiscalNumber: $v", True),
    "string-given-a-list": ("String", CITIZEN % "fiscalNumber: $v", [VALUE]),
    "string-given-an-object": (
        "String",
        CITIZEN % "fiscalNumber: $v",
        {"FICTIF": ALICE},
    ),
    "string-malformed": ("String", CITIZEN % "fiscalNumber: $v", VALUE),
    "int-given-a-string": ("Int", NOTICE % "$v", VALUE),
    "int-out-of-range": ("Int", NOTICE % "$v", int(ALICE)),
    "int-given-a-float": ("Int", NOTICE % "$v", int(ALICE) + 0.5),
    "int-given-a-list": ("Int", QUOTIENT % "$v", [int(ALICE), "ALICE"]),
    "boolean-given-a-string": ("Boolean!", INCLUDE % "$v", VALUE),
    "boolean-given-an-int": ("Boolean!", INCLUDE % "$v", int(ALICE)),
    "date-malformed": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate=f"x{ALICE}"),
    ),
    "date-with-a-name": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate=DATE),
    ),
    "date-given-an-int": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate=int(ALICE)),
    ),
    "date-given-a-list": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate=[DATE]),
    ),
    "date-out-of-range": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate="1850-01-01"),
    ),
    "enum-unknown-value": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(sex="FICTIF"),
    ),
    "enum-given-an-int": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(sex=int(ALICE)),
    ),
    "identity-unknown-field": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(FICTIF=ALICE),
    ),
    "identity-name-given-an-int": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(usageName=int(ALICE)),
    ),
    "identity-given-names-of-ints": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(givenNames=[int(ALICE), "ALICE"]),
    ),
    "identity-given-names-too-many": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(givenNames=["ALICE"] * 4),
    ),
    "identity-malformed-name": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthName=f"FICTIF {ALICE}"),
    ),
    "identity-malformed-place": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthPlaceCode=VALUE),
    ),
    "identity-missing-field": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        {"birthName": "FICTIF", "givenNames": ["ALICE"]},
    ),
    "identity-null-in-non-null": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        identity(birthDate=None),
    ),
    "identity-given-a-string": ("PivotIdentityInput", CITIZEN % "identity: $v", VALUE),
    "identity-given-a-list": (
        "PivotIdentityInput",
        CITIZEN % "identity: $v",
        [identity(sex="X")],
    ),
    "keys-given-a-string": ("[CitizenKeyInput!]!", KEYS % "$v", VALUE),
    "keys-fiscal-number-given-an-int": (
        "[CitizenKeyInput!]!",
        KEYS % "$v",
        [{"fiscalNumber": int(ALICE)}],
    ),
    "keys-unknown-field": ("[CitizenKeyInput!]!", KEYS % "$v", [{"FICTIF": ALICE}]),
    "keys-malformed-fiscal-number": (
        "[CitizenKeyInput!]!",
        KEYS % "$v",
        [{"fiscalNumber": VALUE}],
    ),
    "keys-bad-identity": (
        "[CitizenKeyInput!]!",
        KEYS % "$v",
        [{"identity": identity(birthDate=DATE)}],
    ),
    "keys-null": ("[CitizenKeyInput!]!", KEYS % "$v", [None, VALUE]),
    "any-unknown-typename": (
        "[_Any!]!",
        ENTITIES % "$v",
        [{"__typename": "FICTIF", "id": ALICE}],
    ),
    "any-extra-key": (
        "[_Any!]!",
        ENTITIES % "$v",
        [{"__typename": "Citizen", "id": "x", "FICTIF": ALICE}],
    ),
    "any-a-string": ("[_Any!]!", ENTITIES % "$v", [VALUE]),
    "any-an-int": ("[_Any!]!", ENTITIES % "$v", [int(ALICE)]),
    "any-null": ("[_Any!]!", ENTITIES % "$v", [None, VALUE]),
    "float-variable-in-an-int-position": ("Float", NOTICE % "$v", int(ALICE) + 0.5),
    "id-variable-in-a-string-position": ("ID", CITIZEN % "fiscalNumber: $v", VALUE),
    "date-variable-in-a-string-position": ("Date", CITIZEN % "fiscalNumber: $v", DATE),
}


@pytest.fixture(scope="module")
def gateway(module_gateway: GatewayClient) -> GatewayClient:
    return module_gateway


def assert_no_echo(body: str) -> None:
    for secret in SECRETS:
        assert secret not in body, body


@pytest.mark.parametrize("query", INLINE.values(), ids=INLINE.keys())
def test_an_inline_value_is_never_echoed(gateway: GatewayClient, query: str) -> None:
    response = gateway.post(query)
    assert response.status_code < 500, response.text
    assert "errors" in response.json(), response.text
    assert_no_echo(response.text)


@pytest.mark.parametrize(
    ("type_", "query", "value"), BY_VARIABLE.values(), ids=BY_VARIABLE.keys()
)
def test_a_variables_value_is_never_echoed(
    gateway: GatewayClient, type_: str, query: str, value: Any
) -> None:
    response = gateway.post(f"query($v: {type_}) {query}", {"v": value})
    assert response.status_code < 500, response.text
    assert "errors" in response.json(), response.text
    assert_no_echo(response.text)


def test_a_date_error_says_what_was_expected(gateway: GatewayClient) -> None:
    result = gateway.post(
        "query($v: PivotIdentityInput) " + CITIZEN % "identity: $v",
        {"v": identity(birthDate=f"x{ALICE}")},
    ).json()
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Expected a date as YYYY-MM-DD." in error["message"]
    assert "'$v'" in error["message"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            f"{{ citizen(FICTIF: {ALICE}) {{ id }} }}",
            "Unknown argument <value> on field 'Query.citizen'.",
        ),
        (
            "query($v: [CitizenKeyInput!]!) { citizen(fiscalNumber: $v) { id } }",
            "Variable '$v' of type '[CitizenKeyInput!]!' used in position expecting "
            "type 'String'.",
        ),
        (
            "{ citizen(identity: {FICTIF: 1}) { id } }",
            "Expected value of type 'PivotIdentityInput' not to include unknown field "
            "<value>, found: <value>.",
        ),
        (
            "{ citizens(keys: [{identity: {sex: F}}]) { id } }",
            "Expected value of type 'PivotIdentityInput' to include required field "
            "'birthName', found: <value>.",
        ),
    ],
)
def test_names_of_the_schema_and_of_variables_stay_in_messages(
    document: str, message: str
) -> None:
    schema = build_schema()._schema
    names = schema_names(schema)
    errors = validate(schema, parse(document))
    assert message in [contract_error(error, names).message for error in errors]
