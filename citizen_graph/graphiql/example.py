"""The README's "Try it in GraphiQL" example, which GraphiQL shows prefilled in sandbox mode
(tests/e2e/test_graphiql.py keeps the two the same)."""

from __future__ import annotations

QUERY = """\
query Alice($identity: PivotIdentityInput) {
  citizen(fiscalNumber: "3000000000011", identity: $identity) {
    id
    identity { birthName usageName givenNames birthDate }
    taxNotice { incomeYear referenceTaxIncome shares taxAmount }
    address { label cityCode latitude longitude matchScore sourceLabel }
    familyQuotient { value provider year month children { givenNames birthDate } }
  }
}
"""

VARIABLES = {
    "identity": {
        "birthName": "FICTIF",
        "usageName": "LAMBERT",
        "givenNames": ["ALICE", "MARIE"],
        "birthDate": "1984-03-14",
        "sex": "F",
        "birthPlaceCode": "35238",
    }
}

# A demo key: accepted in sandbox mode only (CONTRACT.md §1).
HEADERS = {
    "Authorization": "Bearer demo-social-services",
    "X-Purpose": "Essai GraphiQL",
}
