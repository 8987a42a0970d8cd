"""The contract's demo keys (sandbox mode only), each with its own habilitation's scopes."""

from __future__ import annotations

from dataclasses import dataclass

from citizen_graph.auth.clients import Client
from citizen_graph.auth.credentials import key_hash
from citizen_graph.auth.habilitations import Habilitation
from citizen_graph.auth.quotas import Quota

ALL_DGFIP = ("RessourceIR", "RessourceIRDerniere2")
CNAF = ("cnaf_quotient_familial", "cnaf_allocataires", "cnaf_enfants", "cnaf_adresse")
MESRI = ("mesri_identite", "mesri_inscription", "mesri_regime", "mesri_etablissements")


@dataclass(frozen=True)
class DemoKey:
    """A demo key of the contract (sandbox mode only); its credentials are minted by the
    sandbox at start-up, distinct for every key."""

    recipient: str
    roles: tuple[str, ...]
    api_particulier: tuple[str, ...] | None  # scopes of its own token; None: no token
    dgfip: tuple[str, ...] | None  # scopes of its own OAuth client; None: no client
    quota: int | None = None  # distinct citizens per 60 s; None: `[sandbox] demo_quota`

    def client_id(self, key: str) -> str:
        # Client ids are not the keys: ids go to the audit trail, keys never do.
        return "demo-client-" + key.removeprefix("demo-")


DEMO_KEYS: dict[str, DemoKey] = {
    "demo-family-portal": DemoKey(
        "21350238800019", ("family_portal",), CNAF[:3], ALL_DGFIP
    ),
    "demo-social-services": DemoKey(
        "26350238800011", ("social_services",), CNAF + MESRI, ALL_DGFIP
    ),
    "demo-student-aid": DemoKey("18004623700013", ("student_aid",), MESRI, ALL_DGFIP),
    "demo-address-check": DemoKey(
        "21350238800019", ("address_check",), None, ("RessourceIRDerniere2",)
    ),
    "demo-all-roles": DemoKey(
        "26350238800011",
        ("social_services", "family_portal", "student_aid", "address_check"),
        CNAF + MESRI,
        ALL_DGFIP,
    ),
    # A CCAS whose CAF habilitation covers the quotient only (no children, no MESRI).
    "demo-ccas-partial": DemoKey(
        "26350238800029", ("family_portal",), ("cnaf_quotient_familial",), ALL_DGFIP
    ),
    "demo-quota-small": DemoKey(
        "21350238800027", ("address_check",), None, ("RessourceIRDerniere2",), 10
    ),
    # A federation router: `_service { sdl }` (the whole SDL) and nothing else.
    "demo-router": DemoKey("21350238800035", ("router",), None, None),
}


def demo_client(
    key: str, habilitations: tuple[Habilitation, ...], demo_quota: int = 1000
) -> Client:
    """`demo_quota`: distinct citizens per 60 s of the keys without their own (0: none)."""
    demo = DEMO_KEYS[key]
    citizens = demo.quota if demo.quota is not None else demo_quota
    return Client(
        demo.client_id(key),
        key_hash(key),
        demo.recipient,
        demo.roles,
        habilitations=habilitations,
        quota=Quota(citizens=citizens) if citizens else None,
    )
