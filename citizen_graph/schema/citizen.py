"""Citizen: the entity that joins the sources; each field names its resolver."""

from __future__ import annotations

import strawberry

from citizen_graph.auth.policy import UPSTREAM
from citizen_graph.context import Info
from citizen_graph.errors import CitizenGraphError
from citizen_graph.records import CitizenKey
from citizen_graph.resolvers import citizen as resolve
from citizen_graph.schema.address import Address
from citizen_graph.schema.family import FamilyQuotient
from citizen_graph.schema.identity import Identity
from citizen_graph.schema.student import StudentStatus
from citizen_graph.schema.tax import TaxNotice


@strawberry.federation.type(
    keys=["id"],
    description="A citizen, found by fiscal number and/or pivot identity. Every "
    "upstream-backed field is nullable: one failing upstream never hides the others.",
)
class Citizen:
    key: strawberry.Private[CitizenKey]

    id: strawberry.ID = strawberry.field(
        resolver=resolve.citizen_id, description="Opaque and stable for the same keys."
    )
    identity: Identity | None = strawberry.field(
        resolver=resolve.identity,
        metadata={UPSTREAM: "dgfip"},
        description="DGFiP: the declarant the fiscal number belongs to.",
    )
    tax_notice: TaxNotice | None = strawberry.field(
        resolver=resolve.tax_notice,
        metadata={UPSTREAM: "dgfip"},
        description="DGFiP; default: the latest income year available.",
    )
    address: Address | None = strawberry.field(
        resolver=resolve.address,
        metadata={UPSTREAM: "dgfip"},
        description="DGFiP tax address, normalised and geocoded by the BAN.",
    )
    family_quotient: FamilyQuotient | None = strawberry.field(
        resolver=resolve.family_quotient,
        metadata={UPSTREAM: "api_particulier"},
        description="CNAF/MSA via API Particulier; needs the identity key. "
        "Default: the current month.",
    )
    student_status: StudentStatus | None = strawberry.field(
        resolver=resolve.student_status,
        metadata={UPSTREAM: "api_particulier"},
        description="MESRI via API Particulier; needs the identity key.",
    )

    @classmethod
    def asked(cls, info: Info, key: CitizenKey) -> Citizen:
        """A Citizen for keys the caller gave, which the pre-execution walk must have
        counted and recorded for the audit: anything else is refused, never fetched."""
        decision = info.context.decision
        if decision is None or key not in decision.subject_set:
            raise CitizenGraphError  # INTERNAL: the walk and execution disagree
        return cls(key=key)

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Citizen:
        return cls.asked(info, info.context.ids.decode(id))
