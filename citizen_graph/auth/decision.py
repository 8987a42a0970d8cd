"""The authorization decision: one walk of the operation against the policy, before execution.

The walk follows what execution will follow — named and inline fragments with their type
conditions, `@skip`/`@include` with the request's variables, aliases, `_entities` — and keys
each field by its response path without list indices. A field the role may not read is
`forbidden`: it will resolve to null with a FORBIDDEN error at its exact path. An
upstream-backed field (marked in the schema's field metadata) under which no readable field is
selected is `hollow`: it is answered without calling its upstream, so only the forbidden
leaves below it report errors.

The same walk counts what the request will cost before anything runs: the citizens its root
fields ask for (the audit's subjects) and, for each, the upstream-backed fields that will
really be fetched. The document's shape was bounded before (schema/limits.py), so this walk
is linear in the document's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
    is_composite_type,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)

from citizen_graph.auth.habilitations import ARGUMENT_GATES
from citizen_graph.auth.policy import UPSTREAM, Policy
from citizen_graph.records import CitizenKey

PathKey = tuple[str, ...]  # response keys from the root, list indices left out


class Asked(Protocol):
    count: int  # keys given, well formed or not
    subjects: tuple[CitizenKey, ...]


class SubjectReader(Protocol):
    def read(self, field_name: str, arguments: Mapping[str, Any]) -> Asked | None:
        """The citizens a root field asks for; None when it asks for none."""


@dataclass
class Decision:
    role: str
    operation: str | None = None
    forbidden: dict[PathKey, str] = field(default_factory=dict)  # path → coordinate
    # Forbidden because the habilitation's scopes do not cover them (the role may read).
    uncovered: set[str] = field(default_factory=set)
    habilitation: str | None = None
    hollow: set[PathKey] = field(default_factory=set)
    allowed: set[str] = field(default_factory=set)  # coordinates selected and readable
    denied: set[str] = field(default_factory=set)
    complete: bool = False  # False: execution refuses the operation or its variables
    citizens: int = 0  # citizens asked for, across root fields and aliases
    subjects: list[CitizenKey] = field(default_factory=list)  # well-formed, in order
    cost: int = 0  # upstream-backed fields that will be fetched, summed over citizens
    # The same per upstream (source → fields × citizens): admission's count of calls.
    calls: dict[str, int] = field(default_factory=dict)
    refused: bool = False  # set by the enforcement when a limit refuses the request
    # `__schema`, `__type` or `_service` at the root: answered from the role's view.
    introspects: bool = False

    @property
    def is_total(self) -> bool:
        """Nothing to intervene on: execution may run untouched."""
        return not self.forbidden and not self.hollow and not self.introspects

    @property
    def subject_set(self) -> frozenset[CitizenKey]:
        return frozenset(self.subjects)


def decide(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    policy: Policy,
    role: str,
    subjects: SubjectReader | None = None,
    uncovered: frozenset[str] = frozenset(),
    habilitation: str | None = None,
) -> Decision:
    """`uncovered`: coordinates outside the scopes of the caller's `habilitation`: what
    may be read is the role's policy intersected with those scopes."""
    operation = get_operation_ast(document, operation_name)
    decision = Decision(
        role, operation.name.value if operation and operation.name else None
    )
    decision.habilitation = habilitation
    if operation is None or schema.query_type is None:
        return decision
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    coerced = get_variable_values(  # one error is enough: execution reports them
        schema,
        operation.variable_definitions or (),
        dict(variables or {}),
        max_errors=1,
    )
    if not isinstance(coerced, VariableValues):
        return decision  # execution refuses these variables before any resolver runs
    walker = _Walker(schema, fragments, coerced, policy, decision, subjects, uncovered)
    walker.walk(schema.query_type, operation.selection_set, (), 0)
    decision.complete = True
    return decision


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        policy: Policy,
        decision: Decision,
        subjects: SubjectReader | None,
        uncovered: frozenset[str] = frozenset(),
    ) -> None:
        self.uncovered = uncovered
        # The argument-gated coordinates of the scope table (`Type.field(arg)`).
        self.gates = ARGUMENT_GATES
        self.uncovered_denials = 0
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.policy = policy
        self.decision = decision
        self.subjects = subjects

    def walk(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        path: PathKey,
        citizens: int,
    ) -> bool:
        """Record verdicts below `path`; True when a readable field is selected here.

        `citizens`: how many citizens the objects at `path` stand for (cost counting).
        """
        decision = self.decision
        readable = False
        # Fields with the same response key are merged, as execution merges them.
        groups: dict[str, list[FieldNode]] = {}
        for key, node in self._fields(parent, selection_set):
            groups.setdefault(key, []).append(node)
        for key, nodes in groups.items():
            node = nodes[0]
            name = node.name.value
            if name.startswith("__") or (not path and name == "_service"):
                # No citizen data; what the schema shows is the role's (introspection.py).
                decision.introspects |= not path and name != "__typename"
                continue
            coordinate = f"{parent.name}.{name}"
            here = (*path, key)
            if not self.policy.may_read(decision.role, parent.name, name):
                decision.forbidden[here] = coordinate
                decision.denied.add(coordinate)
                continue
            definition = parent.fields[name]
            if self._uncovered(coordinate, definition, node):
                decision.forbidden[here] = coordinate
                decision.denied.add(coordinate)
                decision.uncovered.add(coordinate)
                self.uncovered_denials += 1
                continue
            named = get_named_type(definition.type)
            merged = _merged(nodes)
            upstream = _upstream(definition)
            if not is_composite_type(named) or merged is None:
                decision.allowed.add(coordinate)
                self._fetched(upstream, citizens)
                readable = True
                continue
            below_citizens = self._asked(definition, node) if not path else citizens
            denied_before = len(decision.denied)
            uncovered_before = self.uncovered_denials
            below = any(
                [  # a list, not a generator: every member type gets its verdicts
                    self.walk(member, merged, here, below_citizens)
                    for member in self._object_types(named)
                ]
            )
            nothing_denied = (
                len(decision.denied) == denied_before
            )  # e.g. __typename only
            if below:
                decision.allowed.add(coordinate)
                self._fetched(upstream, citizens)
                readable = True
            elif upstream:
                decision.hollow.add(here)
            elif parent.name in self.policy.governed and not nothing_denied:
                decision.forbidden[here] = coordinate
                if self.uncovered_denials > uncovered_before and not self._role_denied(
                    merged, named
                ):
                    decision.uncovered.add(coordinate)  # the scopes, not the role
        return readable

    def _uncovered(
        self, coordinate: str, definition: GraphQLField, node: FieldNode
    ) -> bool:
        """Outside the habilitation's scopes. A field whose upstream route depends on an
        argument (`taxNotice(incomeYear:)`) is gated as `Type.field(argument)` when that
        argument is given."""
        if not self.uncovered:
            return False
        gated = [a for a in definition.args if f"{coordinate}({a})" in self.gates]
        if gated:
            given = get_argument_values(definition, node, self.variables)
            for argument in gated:
                out_name = definition.args[argument].out_name or argument
                if given.get(out_name) is not None:
                    return f"{coordinate}({argument})" in self.uncovered
        return coordinate in self.uncovered

    def _role_denied(self, merged: SelectionSetNode, named: Any) -> bool:
        """Whether the role itself refuses some field selected below (for the message)."""
        for member in self._object_types(named):
            for _, node in self._fields(member, merged):
                field_name = node.name.value
                if not field_name.startswith("__") and not self.policy.may_read(
                    self.decision.role, member.name, field_name
                ):
                    return True
        return False

    def _fetched(self, upstream: str | None, citizens: int) -> None:
        if upstream is not None:
            self.decision.cost += citizens
            calls = self.decision.calls
            calls[upstream] = calls.get(upstream, 0) + citizens

    def _asked(self, definition: GraphQLField, node: FieldNode) -> int:
        """A root field's citizens: counted, and recorded as the audit's subjects."""
        if self.subjects is None:
            return 0
        arguments = get_argument_values(definition, node, self.variables)
        asked = self.subjects.read(node.name.value, arguments)
        if asked is None:
            return 0
        self.decision.citizens += asked.count
        self.decision.subjects.extend(asked.subjects)
        return asked.count

    def _object_types(self, named: Any) -> list[GraphQLObjectType]:
        if is_abstract_type(named):
            return list(self.schema.get_possible_types(named))
        return [named]

    def _fields(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> Iterator[tuple[str, FieldNode]]:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield (selection.alias or selection.name).value, selection
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, parent):
                    yield from self._fields(parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment and self._applies(
                    fragment.type_condition.name.value, parent
                ):
                    yield from self._fields(parent, fragment.selection_set)

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        if condition == parent.name:
            return True
        condition_type = self.schema.get_type(condition)
        return bool(
            condition_type is not None
            and is_abstract_type(condition_type)
            and self.schema.is_sub_type(condition_type, parent)
        )

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and include.get("if") is False)


def _upstream(definition: GraphQLField) -> str | None:
    """The upstream a field is fetched from (its schema metadata), if any."""
    strawberry_field = definition.extensions.get("strawberry-definition")
    metadata = getattr(strawberry_field, "metadata", None) or {}
    source = metadata.get(UPSTREAM)
    return str(source) if source is not None else None


def _merged(nodes: list[FieldNode]) -> SelectionSetNode | None:
    selections = [
        s for n in nodes if n.selection_set for s in n.selection_set.selections
    ]
    return SelectionSetNode(selections=tuple(selections)) if selections else None
