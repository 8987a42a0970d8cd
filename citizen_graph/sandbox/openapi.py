"""OpenAPI 3.0 documents of the simulated upstreams (`GET /_sandbox/openapi/{upstream}.json`),
describing exactly the routes, parameters and answers this sandbox implements; each upstream's
declaration (`registry.py`) names its document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Document = dict[str, Any]
OPENAPI_VERSION = "3.0.3"

_IDENTITY = (
    ("recipient", True, "SIRET (14 chiffres) de l'organisme destinataire des données"),
    ("nomNaissance", True, "Nom de naissance"),
    ("nomUsage", False, "Nom d'usage"),
    ("prenoms[]", True, "Prénoms (1 à 3), paramètre répété"),
    ("anneeDateNaissance", False, "Année de naissance (obligatoire pour MESRI)"),
    ("moisDateNaissance", False, "Mois de naissance (obligatoire pour MESRI)"),
    ("jourDateNaissance", False, "Jour de naissance (obligatoire pour MESRI)"),
    ("sexeEtatCivil", True, "M ou F"),
    (
        "codeCogInseePaysNaissance",
        False,
        "Code COG du pays de naissance (France : 99100)",
    ),
    ("codeCogInseeCommuneNaissance", False, "Code COG de la commune de naissance"),
)


def _query(
    name: str, required: bool, description: str, **schema: Any
) -> dict[str, Any]:
    if name.endswith("[]"):
        schema = {"type": "array", "items": {"type": "string"}}
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
        **({"style": "form", "explode": True} if name.endswith("[]") else {}),
    }


def _path(name: str, pattern: str) -> dict[str, Any]:
    schema = {"type": "string", "pattern": pattern}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _header(name: str, required: bool, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema}


def _json(description: str, ref: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _errors(ref: str, descriptions: Mapping[int, str]) -> dict[str, Any]:
    return {str(status): _json(text, ref) for status, text in descriptions.items()}


_DGFIP_SCOPES = {
    "RessourceIR": "Situation IR d'une année de revenus",
    "RessourceIRDerniere": "Dernière situation IR d'une année (route non simulée)",
    "RessourceIRDerniere2": "Situations IR des deux dernières années",
    "RessourceIRMultiple": "Situations IR multiples (route non simulée)",
    "RessourceIRFacture": "Facture IR (route non simulée)",
    "RessourceIFI": "IFI (route non simulée)",
    "RessourceTHPrincipale": "Taxe d'habitation (route non simulée)",
    "RessourceLEP": "Éligibilité LEP (route non simulée)",
}


def dgfip() -> Document:
    spi, year = _path("spi", "^[0-9]{13}$"), _path("annrev", "^[0-9]{4}$")
    headers = [_header("X-Correlation-ID", True, type="string", format="uuid"),
               _header("ID_Teleservice", False, type="string")]  # fmt: skip
    errors = _errors("Error", {
        400: "4000 X-Correlation-ID absent, 4001 SPI invalide, 4002 année invalide",
        401: "4010 jeton absent, invalide ou expiré",
        403: "4031 accès refusé (jeton sans le scope de la route)",
        410: "4101 pas de situation pour l'année, 4102 SPI inconnu", 500: "Erreur technique",
    })  # fmt: skip
    situation = {"type": "object", "additionalProperties": True, "properties": {
        name: {"type": kind} for name, kind in (
            ("rfr", "integer"), ("nbPart", "number"), ("sitFam", "string"),
            ("aft", "string"), ("montTotIr", "integer"), ("spiDec1", "string"),
            ("spiDec2", "string"), ("annRevenu", "integer"))}}  # fmt: skip
    token_form = {"type": "object", "required": ["grant_type"], "properties": {
        key: {"type": "string"} for key in ("grant_type", "client_id", "client_secret",
                                            "scope")}}  # fmt: skip
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "API Impôt particulier (simulation)", "version": "1.0"},
        "servers": [{"url": "/dgfip"}],
        "paths": {
            "/token": {"post": {
                "summary": "Jeton OAuth2 (client credentials)", "security": [],
                "requestBody": {"required": True, "content": {
                    "application/x-www-form-urlencoded": {"schema": token_form}}},
                "responses": {"200": _json("Jeton d'accès", "Token"),
                              "400": _json("unsupported_grant_type, invalid_scope (aucun des "
                                           "scopes demandés)", "OAuthError"),
                              "401": _json("invalid_client", "OAuthError")}}},
            "/impotparticulier/1.0/spi/{spi}/situations/ir/assiettes/annrev/{annrev}": {"get": {
                "summary": "Situation IR d'une année de revenus (les 3 dernières)",
                "security": [{"oauth2": ["RessourceIR"]}],
                "parameters": [spi, year, *headers],
                "responses": {"200": _json("Situation IR", "Situation"), **errors}}},
            "/impotparticulier/1.0/spi/{spi}/dernieresituation/ir/assiettes/deuxans": {"get": {
                "summary": "Situations IR des deux dernières années de revenus",
                "security": [{"oauth2": ["RessourceIRDerniere2"]}],
                "parameters": [spi, *headers],
                "responses": {"200": {"description": "Plus récente d'abord", "content": {
                    "application/json": {"schema": {"type": "array", "items": {
                        "$ref": "#/components/schemas/Situation"}}}}}, **errors}}},
        },
        "components": {
            "securitySchemes": {"oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": "/dgfip/token", "scopes": _DGFIP_SCOPES}}}},
            "schemas": {
                "Situation": situation,
                "Token": {"type": "object", "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string", "description": "scopes accordés, séparés par "
                              "des espaces"}}},
                "OAuthError": {"type": "object", "properties": {"error": {"type": "string"}}},
                "Error": {"type": "object", "properties": {
                    "codeapp": {"type": "string"}, "message": {"type": "string"}}},
            },
        },
    }  # fmt: skip


def api_particulier() -> Document:
    identity = [_query(*p) for p in _IDENTITY]
    period = [
        _query("annee", False, "Année du QF", type="integer"),
        _query("mois", False, "Mois du QF (24 mois d'historique)", type="integer"),
    ]
    errors = _errors("Errors", {
        400: "00368 période invalide", 401: "00101 jeton invalide, 00103 expiré",
        403: "00100 aucun droit sur cette API", 404: "23003, 25003, 35003 non trouvé",
        409: "00015 requête identique en cours", 422: "00203, 00204, 00366, 00391, 00427",
        429: "00429 trop de requêtes (Retry-After)", 502: "23999, 25999 erreur fournisseur",
        504: "23002, 25002 fournisseur hors délai",
    })  # fmt: skip
    envelope = {
        "type": "object",
        "required": ["data", "links", "meta"],
        "properties": {
            "data": {"type": "object"},
            "links": {"type": "object"},
            "meta": {"type": "object"},
        },
    }
    error = {
        "type": "object",
        "properties": {key: {"type": "string"} for key in ("code", "title", "detail")}
        | {"source": {"type": "object", "nullable": True}, "meta": {"type": "object"}},
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "API Particulier v3 (simulation)", "version": "3.0"},
        "servers": [{"url": "/api-particulier"}],
        "security": [{"jwt_bearer_token": []}],
        "paths": {
            "/v3/dss/quotient_familial/identite": {"get": {
                "summary": "Quotient familial CAF & MSA par identité pivot",
                "parameters": [*identity, *period],
                "responses": {"200": _json("Données", "Envelope"), **errors}}},
            "/v3/mesri/statut_etudiant/identite": {"get": {
                "summary": "Statut étudiant par identité pivot",
                "parameters": identity,
                "responses": {"200": _json("Données", "Envelope"), **errors}}},
        },
        "components": {
            "securitySchemes": {"jwt_bearer_token": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Envelope": envelope, "Errors": {"type": "object", "properties": {
                "errors": {"type": "array", "items": error}}}},
        },
    }  # fmt: skip


def ban() -> Document:
    search = [
        _query(
            "q",
            True,
            "Adresse (3 à 200 caractères, commence par un chiffre ou une lettre)",
        ),
        _query(
            "limit",
            False,
            "Nombre de résultats (1 à 100, 5 par défaut)",
            type="integer",
        ),
        _query("autocomplete", False, "0 ou 1 (sans effet ici)", type="integer"),
        _query("type", False, "housenumber, street, locality ou municipality"),
        _query("postcode", False, "Filtre : code postal"),
        _query("citycode", False, "Filtre : code INSEE"),
    ]
    form = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "string", "format": "binary"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "result_columns": {"type": "array", "items": {"type": "string"}},
            "postcode": {"type": "string"},
            "citycode": {"type": "string"},
        },
    }
    error = {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "detail": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "API Adresse / BAN (simulation)", "version": "1.0"},
        "servers": [{"url": "/ban"}],
        "paths": {
            "/search/": {"get": {
                "summary": "Géocodage d'une adresse", "parameters": search,
                "responses": {"200": _json("GeoCodeJSON FeatureCollection", "Collection"),
                              **_errors("Error", {400: "Requête invalide",
                                                  429: "Trop de requêtes (Retry-After)"})}}},
            "/search/csv/": {"post": {
                "summary": "Géocodage par lot d'un fichier CSV",
                "requestBody": {"required": True,
                                "content": {"multipart/form-data": {"schema": form}}},
                "responses": {"200": {"description": "Le CSV, colonnes result_* ajoutées",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}},
                              **_errors("Error", {400: "Fichier ou colonne invalide",
                                                  429: "Trop de requêtes (Retry-After)"})}}},
        },
        "components": {"schemas": {"Error": error, "Collection": {
            "type": "object", "properties": {
                "type": {"type": "string"}, "version": {"type": "string"},
                "features": {"type": "array", "items": {"type": "object"}},
                "query": {"type": "string"}, "limit": {"type": "integer"}}}}},
    }  # fmt: skip
