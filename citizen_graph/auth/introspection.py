"""Introspection per role, as Hasura does: `__schema`, `__type` and `_service { sdl }` show
each caller only what its role may read, intersected with its habilitation's scopes: the
schema `citizen-graph schema --role R --client C` prints. Code generated against a role's
introspection is exactly its readable schema. A role that `composes_schema` in the policy (a
federation router's) reads `_service { sdl }` and nothing else, and that SDL is the whole.

A view is built once per (role, scopes left out), from the restricted SDL, and kept: their
number is bounded by the clients file (roles × habilitations).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema, build_schema

from citizen_graph.auth.policy import Policy, restricted_sdl

NOT_INTROSPECTION = object()


class SchemaViews:
    def __init__(self, schema: GraphQLSchema, sdl: str, policy: Policy) -> None:
        """`schema`, `sdl`: the gateway's whole schema (as executed, as printed)."""
        self._full = (schema, sdl)
        self._policy = policy
        self._views: dict[tuple[str, frozenset[str]], tuple[GraphQLSchema, str]] = {}

    def view(self, role: str, uncovered: frozenset[str]) -> tuple[GraphQLSchema, str]:
        """The schema `role` may read, as graphql-core's schema and as SDL."""
        key = (role, uncovered)
        found = self._views.get(key)
        if found is None:
            sdl = restricted_sdl(self._full[1], self._policy, role, uncovered)
            # The SDL is the printed schema's, applied federation directives included.
            found = self._views[key] = (build_schema(sdl, assume_valid_sdl=True), sdl)
        return found

    def answer(
        self, info: Any, role: str, uncovered: frozenset[str], arguments: dict[str, Any]
    ) -> Any:
        """The value of an introspection field from the role's view, or
        NOT_INTROSPECTION for any other field."""
        name = info.field_name
        if info.path.prev is None and name in ("__schema", "__type"):
            schema, _ = self.view(role, uncovered)
            return schema if name == "__schema" else schema.get_type(arguments["name"])
        if name == "sdl" and info.parent_type.name == "_Service":
            if self._policy.composes_schema(role):  # what a router composes from
                return self._full[1]
            return self.view(role, uncovered)[1]
        return NOT_INTROSPECTION
