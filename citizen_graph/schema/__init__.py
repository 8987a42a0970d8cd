"""build_schema(): the federated Strawberry schema and the GraphQL stage;
the SDL comes from here.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.info import Info

from citizen_graph.auth.enforcement import Admit, Authorize
from citizen_graph.auth.recording import RecordAccess
from citizen_graph.errors import BadUserInput, CitizenGraphError
from citizen_graph.schema.citizen import Citizen
from citizen_graph.schema.contract import ContractErrors
from citizen_graph.schema.limits import DocumentLimits
from citizen_graph.schema.parser_cache import CachedParser
from citizen_graph.schema.query import Query
from citizen_graph.schema.scalars import SCALAR_OVERRIDES
from citizen_graph.settings import LimitSettings

# The GraphQL stage is the schema's ordered list of extensions, outermost first: the
# audit record, the contract's errors, the token limit, the parser cache, the document's shape
# limits (with the validation cache), then the authorization decision, taken before execution,
# then quotas and admission (auth/quotas.py, auth/admission.py).

logger = logging.getLogger("citizen_graph.graphql")
EXPECTED_CODES = frozenset({"NOT_FOUND"})


class CitizenSchema(strawberry.federation.Schema):
    # Strawberry builds `_entities` from this signature: keep its annotations.
    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Only `{"__typename": "Citizen", "id": …}` representations: anything else is the
        caller's mistake (BAD_USER_INPUT at its index), never an internal error."""
        checked = [_representation(r) for r in representations]
        valid = [r for r in checked if not isinstance(r, Exception)]
        resolved = iter(super().entities_resolver(info, valid))
        return [
            FederationAny(r) if isinstance(r, Exception) else next(resolved)
            for r in checked
        ]

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        # Strawberry logs every error with a traceback; field errors here are expected
        # outcomes (already in the response), and INTERNAL ones are logged where masked.
        # One line per request, whatever the number of errors (no log flooding).
        # Only expected answers about the data (NOT_FOUND): DEBUG, so that the JSON
        # formatter stays off the hot path of a batch full of unknown people.
        codes = Counter(_code(error) for error in errors)
        level = logging.DEBUG if set(codes) <= EXPECTED_CODES else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(level, "graphql errors", extra={"codes": dict(codes)})


def _code(error: GraphQLError) -> str:
    """The contract code of the project's errors; parse and validation errors as such."""
    original = error.original_error
    if isinstance(original, CitizenGraphError):
        return original.code
    return "validation" if original is None else "unexpected"


def _representation(representation: Any) -> Any:
    if (
        isinstance(representation, dict)
        and representation.get("__typename") == "Citizen"
        and set(representation) == {"__typename", "id"}
        and isinstance(representation["id"], str)
    ):
        return dict(representation)
    return BadUserInput(
        'A representation must be {"__typename": "Citizen", "id": "…"}.'
    )


def build_schema(limits: LimitSettings | None = None) -> CitizenSchema:
    limits = limits or LimitSettings()
    extensions: list[Any] = [
        RecordAccess,  # last to see the result: records the codes the caller gets
        ContractErrors,
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: CachedParser(maxsize=256),
        # Measures the shape (fragments summarised once), then validates with a cache
        # that hits: no validator class is built per request.
        lambda: DocumentLimits(limits),
        Authorize,  # on_execute: the decision, once the document is valid
        Admit,  # then quotas and admission, before any resolver
    ]
    return CitizenSchema(
        query=Query,
        types=[Citizen],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
        scalar_overrides=SCALAR_OVERRIDES,
    )
