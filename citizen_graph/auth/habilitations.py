"""Habilitations: per client, the State's grants (DataPass) it holds, with their scopes.

A client's `[[clients.habilitations]]` each name the procedure they cover, the roles they
serve, and the upstream credentials they hold, always by reference, never inline:

    [[clients.habilitations]]
    id = "rennes-cantine-2026"            # public: the audit and the stats name it
    procedure = "Tarification de la cantine"
    roles = ["family_portal"]
    [clients.habilitations.api_particulier]
    token = { env = "RENNES_CANTINE_AP_TOKEN" }     # or { file = "/run/secrets/…" }
    scopes = ["cnaf_quotient_familial", "cnaf_enfants"]
    [clients.habilitations.dgfip]
    client_id = "rennes-cantine"
    client_secret = { file = "/run/secrets/rennes-cantine-dgfip" }
    scopes = ["RessourceIRDerniere2"]

What a request may read is the role's policy **intersected** with the scopes of the
habilitation serving that role: `SCOPE_FIELDS` says which schema coordinates each upstream
scope unlocks; a coordinate that some scope of an upstream gates and none of the
habilitation's scopes unlocks is `uncovered` (FORBIDDEN, no upstream call). A habilitation
without an upstream's section has none of its scopes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.datastructures import Secret

from citizen_graph.access import Access, DgfipCredential, ParticulierCredential
from citizen_graph.errors import ConfigurationError

_QUOTIENT = "Citizen.familyQuotient"
_STUDENT = (
    "Citizen.studentStatus",
    "StudentStatus.enrolled",
    "StudentStatus.admissions",
)
_ADMISSION = ("Admission.startDate", "Admission.endDate", "Admission.enrolled")
# Per upstream, what each scope unlocks (API Particulier's scopes mask `data` blocks;
# DGFiP's are per route: `deuxans` serves identity, the default notice and the address;
# `RessourceIR` the notice of a given year, `taxNotice(incomeYear:)`).
SCOPE_FIELDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "dgfip": {
        "RessourceIRDerniere2": (
            "Citizen.identity",
            "Citizen.taxNotice",
            "Citizen.address",
        ),
        # `Type.field(argument)`: the field when that argument is given (another route).
        "RessourceIR": ("Citizen.taxNotice(incomeYear)",),
    },
    "api_particulier": {
        "cnaf_quotient_familial": (
            _QUOTIENT,
            "FamilyQuotient.value",
            "FamilyQuotient.provider",
            "FamilyQuotient.year",
            "FamilyQuotient.month",
            "FamilyQuotient.computedYear",
            "FamilyQuotient.computedMonth",
        ),
        "cnaf_allocataires": (_QUOTIENT, "FamilyQuotient.beneficiaries"),
        "cnaf_enfants": (_QUOTIENT, "FamilyQuotient.children"),
        "cnaf_adresse": (),
        "mesri_identite": (),
        "mesri_inscription": (*_STUDENT, *_ADMISSION),
        "mesri_regime": (*_STUDENT, *_ADMISSION, "Admission.trainingRegime"),
        "mesri_etablissements": (
            *_STUDENT,
            *_ADMISSION,
            "Admission.institutionName",
            "Admission.institutionUai",
            "Admission.cityCode",
        ),
    },
}
# Coordinates gated only when an argument is given: the decision checks them instead.
ARGUMENT_GATES = frozenset(
    coordinate
    for table in SCOPE_FIELDS.values()
    for coordinates in table.values()
    for coordinate in coordinates
    if coordinate.endswith(")")
)
HABILITATION_KEYS = {"id", "procedure", "roles", "api_particulier", "dgfip"}
UPSTREAM_KEYS: Mapping[str, frozenset[str]] = {
    "api_particulier": frozenset({"token", "scopes"}),
    "dgfip": frozenset({"client_id", "client_secret", "scopes"}),
}


class HabilitationError(ConfigurationError):
    """A habilitation is invalid; the message names it and the key, never a secret."""


@dataclass(frozen=True)
class Habilitation:
    habilitation_id: str
    procedure: str
    roles: tuple[str, ...]
    access: Access
    scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # per upstream
    uncovered: frozenset[str] = frozenset()  # coordinates its scopes do not unlock

    def describe(self) -> str:
        held = {source: sorted(s) for source, s in self.scopes.items()}
        return f"{self.habilitation_id} ({self.procedure}): {held}"


def uncovered(scopes: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """The coordinates gated by some upstream scope that none of `scopes` unlocks."""
    gated: set[str] = set()
    unlocked: set[str] = set()
    for source, table in SCOPE_FIELDS.items():
        held = set(scopes.get(source, ()))
        for scope, coordinates in table.items():
            gated.update(coordinates)
            if scope in held:
                unlocked.update(coordinates)
    return frozenset(gated - unlocked)


def habilitation(
    recipient: str,
    habilitation_id: str,
    procedure: str,
    roles: Iterable[str],
    *,
    api_particulier: tuple[str, Iterable[str]] | None = None,
    dgfip: tuple[str, str, Iterable[str]] | None = None,
) -> Habilitation:
    """A habilitation from resolved credentials (the file's, or the sandbox's demo ones)."""
    scopes: dict[str, frozenset[str]] = {}
    particulier = dgfip_credential = None
    if api_particulier is not None:
        token, declared = api_particulier
        scopes["api_particulier"] = frozenset(declared)
        particulier = ParticulierCredential(Secret(token), _token_id(token))
    if dgfip is not None:
        client_id, secret, declared = dgfip
        declared = frozenset(declared)
        scopes["dgfip"] = declared
        dgfip_credential = DgfipCredential(
            client_id, Secret(secret), tuple(sorted(declared))
        )
    access = Access(habilitation_id, recipient, particulier, dgfip_credential)
    return Habilitation(
        habilitation_id, procedure, tuple(roles), access, scopes, uncovered(scopes)
    )


def parse_habilitations(
    entries: Any,
    client_id: str,
    recipient: str,
    client_roles: tuple[str, ...],
    env: Mapping[str, str],
) -> tuple[Habilitation, ...]:
    """`env`: where `{ env = "NAME" }` references are read (settings.environment())."""
    where = f"client {client_id!r}"
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise HabilitationError(
            f"{where}: habilitations must be [[clients.habilitations]]"
        )
    found = tuple(
        _parse(entry, n, where, recipient, env) for n, entry in enumerate(entries, 1)
    )
    served: dict[str, str] = {}
    for item in found:
        for role in item.roles:
            if role not in client_roles:
                raise HabilitationError(
                    f"habilitation {item.habilitation_id!r} serves role {role!r}, "
                    f"which {where} does not have"
                )
            if role in served:
                raise HabilitationError(
                    f"{where}: role {role!r} is served by two habilitations "
                    f"({served[role]!r} and {item.habilitation_id!r})"
                )
            served[role] = item.habilitation_id
    return found


def check_distinct_credentials(habilitations: Iterable[Habilitation]) -> None:
    """Two habilitations never share a credential: a credential is one grant (its rate,
    its journal at the State); one habilitation may serve several roles instead."""
    owners: dict[tuple[str, str], str] = {}
    for item in habilitations:
        access = item.access
        held = []
        if access.api_particulier is not None:
            held.append(("API Particulier token", str(access.api_particulier.token)))
        if access.dgfip is not None:
            held.append(("DGFiP client_id", access.dgfip.client_id))
        for kind, value in held:
            other = owners.setdefault((kind, value), item.habilitation_id)
            if other != item.habilitation_id:
                raise HabilitationError(
                    f"habilitations {other!r} and {item.habilitation_id!r} share one "
                    f"{kind}: declare one habilitation serving both roles"
                )


def _parse(
    entry: Any, n: int, where: str, recipient: str, env: Mapping[str, str]
) -> Habilitation:
    if not isinstance(entry, dict) or not {"id", "procedure", "roles"} <= set(entry):
        raise HabilitationError(
            f"{where}: habilitation #{n} needs id, procedure and roles"
        )
    for key in ("id", "procedure"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise HabilitationError(
                f"{where}: habilitation #{n}: {key} must be a non-empty string"
            )
    name = f"habilitation {entry['id']!r}"
    unknown = set(entry) - HABILITATION_KEYS
    if unknown:
        raise HabilitationError(f"{name}: unknown key {sorted(unknown)[0]!r}")
    roles = entry["roles"]
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) for r in roles)
    ):
        raise HabilitationError(f"{name}: roles must be a non-empty list of role names")
    if len(set(roles)) != len(roles):
        raise HabilitationError(f"{name}: lists a role twice")
    particulier = dgfip = None
    if "api_particulier" in entry:
        section = _section(entry["api_particulier"], "api_particulier", name)
        token = _secret(section["token"], f"{name}: api_particulier.token", env)
        scopes = _scopes(section["scopes"], "api_particulier", name)
        _check_claims(token, scopes, name)
        particulier = (token, scopes)
    if "dgfip" in entry:
        section = _section(entry["dgfip"], "dgfip", name)
        secret = _secret(section["client_secret"], f"{name}: dgfip.client_secret", env)
        scopes = _scopes(section["scopes"], "dgfip", name)
        client_id = section["client_id"]
        if not isinstance(client_id, str) or not client_id.strip():
            raise HabilitationError(
                f"{name}: dgfip.client_id must be a non-empty string"
            )
        dgfip = (client_id.strip(), secret, scopes)
    return habilitation(
        recipient,
        str(entry["id"]),
        str(entry["procedure"]),
        roles,
        api_particulier=particulier,
        dgfip=dgfip,
    )


def _section(value: Any, source: str, name: str) -> dict[str, Any]:
    required = UPSTREAM_KEYS[source]
    if not isinstance(value, dict) or set(value) != required:
        keys = ", ".join(sorted(required))
        raise HabilitationError(f"{name}: [{source}] needs exactly {keys}")
    return value


def _scopes(value: Any, source: str, name: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise HabilitationError(
            f"{name}: {source}.scopes must be a list of scope names"
        )
    unknown = set(value) - set(SCOPE_FIELDS[source])
    if unknown:
        raise HabilitationError(
            f"{name}: unknown {source} scope {sorted(unknown)[0]!r}"
        )
    return frozenset(value)


def _secret(reference: Any, key: str, env: Mapping[str, str]) -> str:
    """`{ env = "NAME" }` or `{ file = "PATH" }`: a secret is never written in the file."""
    if isinstance(reference, dict) and set(reference) == {"env"}:
        value = env.get(str(reference["env"]), "")
        if not value.strip():
            raise HabilitationError(
                f"{key}: the environment variable {reference['env']!r} is not set"
            )
        return value.strip()
    if isinstance(reference, dict) and set(reference) == {"file"}:
        try:
            value = Path(str(reference["file"])).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise HabilitationError(
                f"{key}: the secret file {reference['file']!r} cannot be read"
            ) from None
        if not value:
            raise HabilitationError(
                f"{key}: the secret file {reference['file']!r} is empty"
            )
        return value
    raise HabilitationError(
        f'{key} must be given by reference: {{ env = "NAME" }} or {{ file = "PATH" }}'
    )


def _claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, read without verifying it (the upstream verifies); else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def _check_claims(token: str, scopes: frozenset[str], name: str) -> None:
    claims = _claims(token)
    held = claims.get("scopes") if claims else None
    if isinstance(held, list):
        missing = scopes - {str(s) for s in held}
        if missing:
            raise HabilitationError(
                f"{name}: the API Particulier token does not hold the declared scope "
                f"{sorted(missing)[0]!r}"
            )


def _token_id(token: str) -> str:
    """The token's public id: its `jti` when it is a readable JWT, else a short digest."""
    claims = _claims(token)
    if claims and isinstance(claims.get("jti"), str):
        return str(claims["jti"])
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]
