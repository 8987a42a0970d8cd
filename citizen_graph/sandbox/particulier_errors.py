"""API Particulier v3 errors: `{"errors": [{"code", "title", "detail", "source", "meta"}]}`."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

# Provider codes are the provider's two digits then the kind: `003` not found, `999` unknown
# answer (502), `001` unavailable and `002` timeout (504). `23` is CNAF, `25` MESRI.

CNAF, MESRI, GENERIC = "23", "25", "00"

_GENERIC = MappingProxyType(
    {
        401: ("00101", "Jeton non valide", "Le jeton d'accès est absent ou invalide."),
        403: (
            "00100",
            "Accès interdit",
            "Le jeton n'a aucun des droits requis par cette API.",
        ),
        409: ("00015", "Requête en cours", "Une requête identique est déjà en cours."),
        422: (
            "00366",
            "Paramètres invalides",
            "Les paramètres d'identité sont mal formatés.",
        ),
        429: (
            "00429",
            "Trop de requêtes",
            "Trop de requêtes pour ce jeton, réessayez.",
        ),
    }
)
_PROVIDER = MappingProxyType(
    {
        404: (
            "003",
            "Entité non trouvée",
            "Aucune donnée n'a été trouvée pour cette identité.",
        ),
        502: (
            "999",
            "Erreur du fournisseur",
            "Le fournisseur de données a renvoyé une erreur.",
        ),
        504: (
            "002",
            "Intermédiaire hors-délai",
            "Temps d'attente du fournisseur écoulé.",
        ),
    }
)
_UNAVAILABLE = (
    "001",
    "Fournisseur indisponible",
    "Le fournisseur de données est indisponible.",
)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        parameter: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.code, self.title = status, code, title
        self.detail = detail or title
        self.parameter = parameter
        self.meta = meta or {}

    def body(self) -> dict[str, Any]:
        source = {"parameter": self.parameter} if self.parameter else None
        error = {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": source,
            "meta": self.meta,
        }
        return {"errors": [error]}


def status_error(status: int, provider: str = GENERIC) -> ApiError:
    """The error API Particulier answers with `status` (used for injected faults)."""
    if status in _GENERIC:
        return ApiError(status, *_GENERIC[status])
    if status in _PROVIDER or status >= 500:
        kind, title, detail = _PROVIDER.get(status, _UNAVAILABLE)
        meta = {"retry_in": 10} if status >= 503 else {}
        return ApiError(status, provider + kind, title, detail, meta=meta)
    return ApiError(
        status, f"00{status}", "Requête invalide", "La requête est invalide."
    )


def invalid_identity(detail: str, parameter: str | None = None) -> ApiError:
    return ApiError(422, "00366", "Paramètres invalides", detail, parameter=parameter)
