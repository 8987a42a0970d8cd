"""The documents the e2e tests send, as clients would."""

# Every DGFiP-backed field (and the BAN's geocoding of the tax address): the benchmark's
# side-by-side with Hive + Mesh asks exactly these.
TAX_FIELDS = """
  identity { birthName usageName givenNames birthDate birthPlace birthDepartment }
  taxNotice {
    incomeYear taxYear referenceTaxIncome shares familySituation dependents
    grossIncome taxableIncome taxBeforeCorrections taxAmount issuedOn collectedOn
  }
  address {
    label houseNumber street postcode city cityCode latitude longitude matchScore
    banId sourceLabel
  }
"""

CITIZEN_FIELDS = (
    """
fragment AllFields on Citizen {
  id"""
    + TAX_FIELDS
    + """  familyQuotient {
    value provider year month computedYear computedMonth
    beneficiaries { birthName usageName givenNames birthDate sex }
    children { birthName usageName givenNames birthDate sex }
  }
  studentStatus {
    enrolled
    admissions {
      startDate endDate enrolled trainingRegime institutionName institutionUai cityCode
    }
  }
}
"""
)

ONE_CITIZEN = (
    """
query OneCitizen($fiscalNumber: String, $identity: PivotIdentityInput) {
  citizen(fiscalNumber: $fiscalNumber, identity: $identity) { ...AllFields }
}
"""
    + CITIZEN_FIELDS
)

MANY_CITIZENS = (
    """
query ManyCitizens($keys: [CitizenKeyInput!]!) {
  citizens(keys: $keys) { ...AllFields }
}
"""
    + CITIZEN_FIELDS
)


def keys_of(citizens: list[dict]) -> list[dict]:
    """Catalogue entries → CitizenKeyInput values (both keys)."""
    return [
        {"fiscalNumber": c["fiscalNumber"], "identity": c["identity"]} for c in citizens
    ]
