"""The project's error tree; each class carries its contract code (CONTRACT.md §2).

    CitizenGraphError                    INTERNAL
    ├── BadUserInput                     BAD_USER_INPUT
    │   └── MethodNotAllowed             BAD_USER_INPUT    (HTTP 405)
    ├── PersistedQueryNotFound           PERSISTED_QUERY_NOT_FOUND (HTTP 200)
    ├── PersistedQueryNotAllowed         PERSISTED_QUERY_NOT_ALLOWED (HTTP 400)
    ├── MissingKey                       MISSING_KEY
    ├── QueryTooComplex                  QUERY_TOO_COMPLEX
    ├── AuthError
    │   ├── Unauthenticated              UNAUTHENTICATED   (HTTP 401)
    │   ├── ForbiddenRole                FORBIDDEN_ROLE    (HTTP 403)
    │   ├── PurposeRequired              PURPOSE_REQUIRED  (HTTP 400)
    │   └── Forbidden                    FORBIDDEN
    └── UpstreamError                    (carries the failing `source`)
        ├── NotFound                     NOT_FOUND
        └── UpstreamUnavailable          UPSTREAM_UNAVAILABLE

Messages are written for the caller: they never hold an identifier, an upstream URL or body.

Configuration problems found at start-up (or by `citizen-graph ... check`) are another branch,
never sent to a caller:

    ConfigurationError (ValueError)
    ├── SettingsError                    settings.py
    ├── PolicyError                      auth/policy.py
    └── ClientsError                     auth/credentials.py
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConfigurationError(ValueError):
    """The configuration is invalid; the message names the offending key, role or client."""


class CitizenGraphError(Exception):
    """Base of every error the gateway raises on purpose."""

    code: ClassVar[str] = "INTERNAL"
    # The HTTP status when the error refuses a whole request (field errors are always 200).
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class BadUserInput(CitizenGraphError):
    code = "BAD_USER_INPUT"
    http_status = 400
    default_message = "Invalid input."


class MethodNotAllowed(BadUserInput):
    http_status = 405
    default_message = "Send GraphQL requests as POST with a JSON body."


class PersistedQueryNotFound(CitizenGraphError):
    """Apollo's automatic persisted queries: the hash is unknown, send it with its query.
    The message is the protocol's own: clients match it to retry with the query."""

    code = "PERSISTED_QUERY_NOT_FOUND"
    http_status = 200
    default_message = "PersistedQueryNotFound"


class PersistedQueryNotAllowed(CitizenGraphError):
    """A client restricted to its trusted documents sent another one."""

    code = "PERSISTED_QUERY_NOT_ALLOWED"
    http_status = 400
    default_message = "This client may only run its trusted documents."


class MissingKey(CitizenGraphError):
    code = "MISSING_KEY"
    http_status = 400
    default_message = "This field needs a lookup key that was not given."


class QueryTooComplex(CitizenGraphError):
    code = "QUERY_TOO_COMPLEX"
    http_status = 413
    default_message = "The query exceeds the gateway's limits."


class RateLimited(CitizenGraphError):
    """A quota or the upstream rate refuses the request before any upstream call."""

    code = "RATE_LIMITED"
    http_status = 429
    default_message = "Too many requests: retry later."

    def __init__(
        self,
        message: str | None = None,
        retry_after_s: int = 1,
        max_citizens: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)
        self.max_citizens = max_citizens

    @property
    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.max_citizens is not None:
            extensions["maxCitizens"] = self.max_citizens
        return extensions


class AuthError(CitizenGraphError):
    """A problem with who is calling, found before execution."""


class Unauthenticated(AuthError):
    code = "UNAUTHENTICATED"
    http_status = 401
    default_message = "A valid credential is required (Authorization: Bearer <key>)."


class ForbiddenRole(AuthError):
    code = "FORBIDDEN_ROLE"
    http_status = 403
    default_message = "The declared role is not allowed for this credential."


class PurposeRequired(AuthError):
    code = "PURPOSE_REQUIRED"
    http_status = 400
    default_message = "This role requires an X-Purpose header."


class Forbidden(AuthError):
    code = "FORBIDDEN"
    http_status = 403
    default_message = "The caller's role may not read this field."


class UpstreamError(CitizenGraphError):
    """An upstream State API did not give the data; `source` names which one."""

    http_status = 502

    def __init__(self, source: str, message: str | None = None) -> None:
        self.source = source
        super().__init__(message)

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "source": self.source}


class NotFound(UpstreamError):
    code = "NOT_FOUND"
    default_message = "The upstream does not know this person."


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"
    default_message = "The upstream could not answer."
