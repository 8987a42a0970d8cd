"""Limits on a document's shape, counted in one linear pass before graphql-core validates it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import ValidationCache

from citizen_graph.errors import BadUserInput, CitizenGraphError, QueryTooComplex
from citizen_graph.settings import LimitSettings

# Each named fragment is summarised once and its summary reused wherever it is spread, so a
# document whose fragments spread the next one twice costs one visit per fragment, not 2^depth.
# The pass measures the operation as execution would expand it: depth (an introspection
# field's subtree, and fragments on introspection types, against a larger bound of their own:
# the standard introspection query that code generators send is 11 deep, and `__schema` is
# allowed once per document), fields, aliases, occurrences of one response key in one
# selection set (what makes validation quadratic), and counts directives as written. The
# first limit exceeded refuses the document with one error, and validation (cached,
# Strawberry's `ValidationCache`) never runs on it.

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass
class Summary:
    """A selection set as execution would expand it (fragments included)."""

    levels: int = 0  # fields on the longest path down
    fields: int = 0  # field selections after expansion
    aliases: int = 0  # aliased selections after expansion
    introspections: int = 0  # `__schema` selections after expansion
    introspection_levels: int = 0  # the same as `levels`, below `__schema` / `__type`
    keys: Counter[str] = field(default_factory=Counter)  # response keys at this level


@dataclass
class Shape:
    """What the pass found, and how much work it did (for the tests that count it)."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    directives: int = 0
    fragments_expanded: int = 0
    refusal: CitizenGraphError | None = None  # the first limit exceeded


class _Refused(Exception):
    def __init__(self, error: CitizenGraphError) -> None:
        self.error = error


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    limits: LimitSettings,
    variables: Any = None,
) -> Shape:
    """The document's shape, with the first limit it exceeds, if any."""
    measuring = _Pass(schema, document, limits)
    try:
        _count_values(variables, limits.max_variable_values)
        measuring.run(operation_name)
    except _Refused as refused:
        measuring.shape.refusal = refused.error
    return measuring.shape


def _count_values(variables: Any, limit: int) -> None:
    """Coercion makes one error per bad value: bound the values first (iteratively)."""
    pending, seen = [variables], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > limit:
            raise _Refused(
                QueryTooComplex(f"The variables hold more than {limit} values.")
            )
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


class _Pass:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, limits: LimitSettings
    ) -> None:
        self.limits = limits
        self.known_directives = {d.name for d in schema.directives}
        self.document = document
        self.fragments: Mapping[str, FragmentDefinitionNode] = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.summaries: dict[str, Summary | None] = {}  # None: being summarised
        self.shape = Shape()
        self.nesting = 0  # fields above the selection set being read
        self.introspecting = 0  # of them, `__schema` or `__type` fields

    def run(self, operation_name: str | None) -> None:
        operations = [
            d
            for d in self.document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        if operation_name is None and len(operations) > 1:
            raise _Refused(
                BadUserInput(
                    "The document holds several operations: choose one with "
                    "operationName."
                )
            )
        self._count_directives()
        for fragment in self.fragments.values():  # unused ones are validated too
            self._fragment(fragment.name.value)
        for operation in operations:
            summary = self._selection_set(operation.selection_set)
            self._check(summary)

    def _check(self, summary: Summary) -> None:
        limits = self.limits
        depth = max(
            summary.levels - 1, 0
        )  # a root leaf is depth 0, as Strawberry counts
        self.shape.depth = max(self.shape.depth, depth)
        self.shape.fields = max(self.shape.fields, summary.fields)
        self.shape.aliases = max(self.shape.aliases, summary.aliases)
        if depth > limits.max_depth:
            self._refuse(
                f"The operation exceeds the maximum depth of {limits.max_depth}."
            )
        if summary.introspection_levels - 1 > limits.max_introspection_depth:
            self._refuse(
                "The introspection exceeds the maximum depth of "
                f"{limits.max_introspection_depth}."
            )
        if summary.fields > limits.max_fields:
            self._refuse(
                f"The operation selects more than {limits.max_fields} fields once its "
                "fragments are expanded."
            )
        if summary.aliases > limits.max_aliases:
            self._refuse(f"The operation uses more than {limits.max_aliases} aliases.")
        if summary.introspections > limits.max_introspections:
            self._refuse(
                f"The operation selects __schema more than {limits.max_introspections} "
                "time(s)."
            )

    def _selection_set(self, selection_set: SelectionSetNode) -> Summary:
        summary = Summary()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, summary)
            elif isinstance(selection, InlineFragmentNode):
                self._add(summary, self._selection_set(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                spread = self._fragment(selection.name.value)
                if spread is not None:
                    self._add(summary, spread)
        duplicated = [n for n in summary.keys.values() if n > self.limits.max_repeats]
        if duplicated:
            self._refuse(
                f"A selection set repeats one field more than {self.limits.max_repeats} "
                "times once its fragments are expanded."
            )
        return summary

    def _field(self, node: FieldNode, summary: Summary) -> None:
        below = None
        meta = node.name.value in INTROSPECTION_FIELDS
        if node.selection_set:
            self.nesting += 1  # refuse on the way down: no deep recursion either
            self.introspecting += meta
            bound = self.limits.max_depth
            if self.introspecting:
                bound = max(bound, self.limits.max_introspection_depth)
            if self.nesting > bound + 1:
                self._refuse(f"The operation exceeds the maximum depth of {bound}.")
            below = self._selection_set(node.selection_set)
            self.nesting -= 1
            self.introspecting -= meta
        levels = 1 + (below.levels if below else 0)
        if meta:  # its subtree counts against the introspection's bound only
            summary.introspection_levels = max(summary.introspection_levels, levels)
        else:
            summary.levels = max(summary.levels, levels)
        if below is not None:
            summary.introspection_levels = max(
                summary.introspection_levels, 1 + below.introspection_levels
            )
        summary.fields += 1 + (below.fields if below else 0)
        summary.aliases += (1 if node.alias else 0) + (below.aliases if below else 0)
        summary.introspections += (node.name.value == "__schema") + (
            below.introspections if below else 0
        )
        summary.keys[(node.alias or node.name).value] += 1

    def _fragment(self, name: str) -> Summary | None:
        if name in self.summaries:
            summary = self.summaries[name]
            if summary is None:
                raise _Refused(BadUserInput("Fragments must not form a cycle."))
            return summary
        fragment = self.fragments.get(name)
        if fragment is None:
            return None  # validation reports the unknown fragment
        self.summaries[name] = None
        self.shape.fragments_expanded += 1
        # A fragment on an introspection type (`on __Type`) is introspection wherever
        # it is spread: its depth counts against the introspection's bound.
        meta = fragment.type_condition.name.value.startswith("__")
        self.introspecting += meta
        summary = self._selection_set(fragment.selection_set)
        self.introspecting -= meta
        if meta:
            summary.introspection_levels = max(
                summary.introspection_levels, summary.levels
            )
            summary.levels = 0
        self.summaries[name] = summary
        return summary

    def _add(self, summary: Summary, other: Summary) -> None:
        summary.levels = max(summary.levels, other.levels)
        summary.introspection_levels = max(
            summary.introspection_levels, other.introspection_levels
        )
        summary.fields += other.fields
        summary.aliases += other.aliases
        summary.introspections += other.introspections
        summary.keys.update(other.keys)
        if summary.fields > self.limits.max_fields:  # stop before the numbers explode
            self._refuse(
                f"The operation selects more than {self.limits.max_fields} fields once "
                "its fragments are expanded."
            )

    def _count_directives(self) -> None:
        """Directives as written: graphql-core reports one error per directive node."""
        limits = self.limits
        for directives in _directive_lists(self.document):
            self.shape.directives += len(directives)
            names = [d.name.value for d in directives]
            if len(names) > limits.max_directives_per_field:
                self._refuse(
                    f"A selection carries more than {limits.max_directives_per_field} "
                    "directives."
                )
            if len(set(names)) < len(names) or not self.known_directives >= set(names):
                raise _Refused(
                    BadUserInput("A directive is unknown or repeated on one selection.")
                )
        if self.shape.directives > limits.max_directives:
            self._refuse(
                f"The operation exceeds maximum directives of {limits.max_directives}."
            )

    def _refuse(self, message: str) -> None:
        raise _Refused(QueryTooComplex(message))


def _directive_lists(document: DocumentNode) -> Iterator[tuple[DirectiveNode, ...]]:
    """The directive list of every node that has one (iteratively: no recursion limit)."""
    stack: list[object] = list(document.definitions)
    while stack:
        node = stack.pop()
        directives = getattr(node, "directives", None)
        if directives:
            yield tuple(directives)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
        stack.extend(getattr(node, "variable_definitions", None) or ())


class DocumentLimits(ValidationCache):
    """Measure the document first; validate (cached) only what fits the limits."""

    def __init__(self, limits: LimitSettings) -> None:
        super().__init__(maxsize=256)
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            # `operation_name` falls back to the first operation; the name the client
            # gave (or not) is what decides whether the document is ambiguous.
            given = getattr(execution, "_provided_operation_name", None)
            refusal = measure(
                execution.schema._schema,
                document,
                given,
                self.limits,
                execution.variables,
            ).refusal
            if refusal is not None:
                execution.pre_execution_errors = [
                    GraphQLError(refusal.message, original_error=refusal)
                ]
                yield
                return
        yield from super().on_validate()
