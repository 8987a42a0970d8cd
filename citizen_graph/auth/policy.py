"""The declarative policy: per role, the `Type.field` coordinates it may read; deny by default.

Loaded from TOML and validated against the schema once, at start-up and by
`citizen-graph policy check`: an unknown role, type or field, or a readable type whose non-null
field is not readable, is an error that names it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    Visitor,
    get_named_type,
    is_abstract_type,
    parse,
    print_ast,
    visit,
)

from citizen_graph.errors import ConfigurationError

# Readable by every role: who is calling, and the opaque id of what they asked for.
ALWAYS_READABLE = ("Citizen.id", "Viewer.*")
# Object types that carry no citizen data and are readable wherever reached: the root's
# entry points and the federation plumbing. Introspection types (`__*`) are public too.
PUBLIC_TYPES = frozenset({"Query", "_Service"})
# The field metadata that marks a field backed by an upstream (schema/citizen.py).
UPSTREAM = "citizen_graph.upstream"
ROLE_KEYS = {"description", "purpose_required", "read", "composes_schema"}
ROOT_TYPES = frozenset({"Query", "_Service"})
# All a role that composes the schema may read: the SDL (whole, introspection.py).
COMPOSING = frozenset({("Query", "_service"), ("_Service", "sdl")})


class PolicyError(ConfigurationError):
    """The policy is invalid; the message names the role, type or field."""


@dataclass(frozen=True)
class RolePolicy:
    name: str
    description: str
    purpose_required: bool
    readable: frozenset[str]  # expanded `Type.field` coordinates
    # A federation router's: the whole SDL from `_service { sdl }`, and nothing else.
    composes_schema: bool = False


class Policy:
    def __init__(
        self, roles: Mapping[str, RolePolicy], governed: Iterable[str] = ()
    ) -> None:
        self.roles = dict(roles)
        self.governed = frozenset(governed)  # object types the policy decides on

    def role(self, name: str) -> RolePolicy:
        return self.roles[name]

    def composes_schema(self, role: str) -> bool:
        found = self.roles.get(role)
        return found is not None and found.composes_schema

    def composing_roles(self) -> frozenset[str]:
        """The roles that read no citizen data, so need no habilitation."""
        return frozenset(name for name, r in self.roles.items() if r.composes_schema)

    def may_read(self, role: str, type_name: str, field_name: str) -> bool:
        """Deny by default: a type neither governed nor public is not readable."""
        if self.roles[role].composes_schema:
            return (type_name, field_name) in COMPOSING
        if type_name in self.governed:
            return f"{type_name}.{field_name}" in self.roles[role].readable
        return type_name in PUBLIC_TYPES or type_name.startswith("__")

    def readable_fields(
        self, role: str, uncovered: frozenset[str] = frozenset()
    ) -> tuple[str, ...]:
        """`uncovered`: what the caller's habilitation's scopes leave out."""
        return tuple(sorted(self.roles[role].readable - uncovered))


def governed_types(schema: GraphQLSchema) -> frozenset[str]:
    """Every object type reachable from the root's fields, minus the public ones."""
    assert schema.query_type is not None
    found: set[str] = set()
    pending = [schema.query_type]
    while pending:
        for graphql_field in pending.pop().fields.values():
            named = get_named_type(graphql_field.type)
            members = (
                schema.get_possible_types(named) if is_abstract_type(named) else [named]
            )
            for member in members:
                if isinstance(member, GraphQLObjectType) and member.name not in found:
                    found.add(member.name)
                    pending.append(member)
    return frozenset(
        name for name in found if name not in PUBLIC_TYPES and not name.startswith("__")
    )


def root_types(schema: GraphQLSchema) -> frozenset[str]:
    """Object types a root field returns directly (reachable without any grant)."""
    assert schema.query_type is not None
    names: set[str] = set()
    for graphql_field in schema.query_type.fields.values():
        named = get_named_type(graphql_field.type)
        members = (
            schema.get_possible_types(named) if is_abstract_type(named) else [named]
        )
        names.update(m.name for m in members)
    return frozenset(names)


def load_policy(schema: GraphQLSchema, path: Path | None = None) -> Policy:
    """Read and validate a policy file (the shipped default when `path` is None)."""
    try:
        if path is None:
            text = resources.files("citizen_graph.auth").joinpath("default_policy.toml")
            raw = tomllib.loads(text.read_text(encoding="utf-8"))
        else:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"cannot read policy {path or 'default'}: {exc}") from None
    return build_policy(schema, raw)


def build_policy(schema: GraphQLSchema, raw: Mapping[str, Any]) -> Policy:
    unknown = set(raw) - {"roles"}
    if unknown:
        raise PolicyError(f"unknown top-level key in policy: {sorted(unknown)[0]}")
    roles = raw.get("roles")
    if not isinstance(roles, Mapping) or not roles:
        raise PolicyError(
            "the policy must define at least one role under [roles.<name>]"
        )
    governed = governed_types(schema)
    return Policy(
        {name: _role(schema, governed, name, spec) for name, spec in roles.items()},
        governed,
    )


def _role(
    schema: GraphQLSchema, governed: frozenset[str], name: str, spec: Any
) -> RolePolicy:
    if not isinstance(spec, Mapping):
        raise PolicyError(f"role {name}: must be a table")
    unknown = set(spec) - ROLE_KEYS
    if unknown:
        raise PolicyError(f"role {name}: unknown key {sorted(unknown)[0]}")
    read = spec.get("read", [])
    if not isinstance(read, list) or not all(isinstance(c, str) for c in read):
        raise PolicyError(f"role {name}: read must be a list of 'Type.field' strings")
    purpose = spec.get("purpose_required", False)
    if not isinstance(purpose, bool):
        raise PolicyError(f"role {name}: purpose_required must be true or false")
    composes = spec.get("composes_schema", False)
    if not isinstance(composes, bool):
        raise PolicyError(f"role {name}: composes_schema must be true or false")
    if composes and read:
        raise PolicyError(f"role {name}: a role that composes the schema reads nothing")
    always = [c for c in ALWAYS_READABLE if c.partition(".")[0] in governed]
    readable = frozenset(_expand(schema, governed, name, [*always, *read]))
    _check_non_null(schema, governed, name, readable)
    description = str(spec.get("description", ""))
    return RolePolicy(name, description, purpose, readable, composes)


def _expand(
    schema: GraphQLSchema,
    governed: frozenset[str],
    role: str,
    coordinates: Iterable[str],
) -> Iterable[str]:
    for coordinate in coordinates:
        type_name, _, field_name = coordinate.partition(".")
        graphql_type = schema.type_map.get(type_name)
        if type_name not in governed or not isinstance(graphql_type, GraphQLObjectType):
            raise PolicyError(
                f"role {role}: unknown type {type_name!r} in {coordinate!r}"
            )
        if field_name == "*":
            yield from (f"{type_name}.{f}" for f in graphql_type.fields)
        elif field_name in graphql_type.fields:
            yield coordinate
        else:
            raise PolicyError(f"role {role}: unknown field {coordinate!r}")


def _check_non_null(
    schema: GraphQLSchema, governed: frozenset[str], role: str, readable: frozenset[str]
) -> None:
    """A forbidden non-null field would null its parent: refuse such policies."""
    for type_name in sorted(governed):
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        fields = graphql_type.fields
        if not any(f"{type_name}.{f}" in readable for f in fields):
            continue
        for field_name, graphql_field in fields.items():
            coordinate = f"{type_name}.{field_name}"
            if (
                isinstance(graphql_field.type, GraphQLNonNull)
                and coordinate not in readable
            ):
                raise PolicyError(
                    f"role {role}: may read {type_name} but not its non-null field "
                    f"{coordinate}"
                )
        _check_reachable(schema, governed, role, type_name, readable)


def _check_reachable(
    schema: GraphQLSchema,
    governed: frozenset[str],
    role: str,
    type_name: str,
    readable: frozenset[str],
) -> None:
    """A readable type no readable field leads to is a policy mistake, not a grant."""
    if type_name in root_types(schema):
        return
    for other in governed:
        graphql_type = schema.type_map[other]
        assert isinstance(graphql_type, GraphQLObjectType)
        for field_name, graphql_field in graphql_type.fields.items():
            target = get_named_type(graphql_field.type)
            if target.name == type_name and f"{other}.{field_name}" in readable:
                return
    raise PolicyError(
        f"role {role}: grants fields of {type_name} but no readable field leads to it"
    )


def restricted_sdl(
    sdl: str, policy: Policy, role: str, uncovered: frozenset[str] = frozenset()
) -> str:
    """The schema as `role` may read it (with a habilitation: what its scopes leave out,
    `uncovered`, removed too): unreadable fields dropped, then unreachable types."""
    document = parse(sdl)
    kept: list[Any] = []
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode) and definition.fields:
            name = definition.name.value
            fields = tuple(
                f
                for f in definition.fields
                if policy.may_read(role, name, f.name.value)
                and f"{name}.{f.name.value}" not in uncovered
            )
            if not fields:
                continue
            definition = replace(definition, fields=fields)
        kept.append(definition)
    return print_ast(DocumentNode(definitions=tuple(_reachable(_members(kept)))))


def _members(definitions: list[Any]) -> list[Any]:
    """Unions keep only the kept types (`_Entity` has none for a router's role)."""
    objects = {
        d.name.value for d in definitions if isinstance(d, ObjectTypeDefinitionNode)
    }
    kept: list[Any] = []
    for definition in definitions:
        if isinstance(definition, UnionTypeDefinitionNode):
            members = definition.types or ()
            types = tuple(t for t in members if t.name.value in objects)
            if not types:
                continue
            definition = replace(definition, types=types)
        kept.append(definition)
    return kept


def _reachable(definitions: list[Any]) -> list[Any]:
    """Drop type definitions no kept field, argument or input refers to (fixed point)."""
    while True:
        used = {
            node.name.value
            for definition in definitions
            for node in _named_types(definition)
        }
        kept = [
            d
            for d in definitions
            if not isinstance(d, TypeDefinitionNode)
            or isinstance(d, ScalarTypeDefinitionNode | UnionTypeDefinitionNode)
            or d.name.value in used | ROOT_TYPES
        ]
        if len(kept) == len(definitions):
            return kept
        definitions = kept


def _named_types(definition: Any) -> list[NamedTypeNode]:
    found: list[NamedTypeNode] = []

    class Collect(Visitor):
        def enter_named_type(self, node: NamedTypeNode, *args: Any) -> None:
            found.append(node)

    for child in (
        getattr(definition, "fields", None) or (),
        getattr(definition, "operation_types", None) or (),
        getattr(definition, "types", None) or (),
    ):
        for node in child:
            visit(node, Collect())
    return found
