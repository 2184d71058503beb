"""Limits on what one GraphQL document may ask for, checked before any system is called.

Every list read fans out to three systems, so a single query can cost thousands of
upstream calls. Each limit rejects the whole document with a coded error that names
the limit; parsing and validation are cached, so the checks cost nothing on repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult as GraphQLExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from graphql.validation import ASTValidationRule
from pydantic import BaseModel, Field
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import count_fields_with_alias

#: Counted for a paginated field whose `first` is absent and has no default in the schema.
DEFAULT_PAGE_SIZE = 20


class GraphQLLimits(BaseModel):
    """What one document may ask for; env `C360_GRAPHQL__*`."""

    max_depth: int = Field(12, ge=1, description="Deepest field nesting (introspection fields not counted).")
    max_aliases: int = Field(30, ge=0, description="Aliased fields in one document.")
    max_tokens: int = Field(5000, ge=1, description="Lexical tokens in one document, checked while parsing.")
    max_cost: int = Field(
        50_000, ge=1, description="Estimated field resolutions: each field counts (1 + its children) x its `first`."
    )
    document_cache_size: int = Field(
        256, ge=0, description="Parsed and validated documents kept (LRU); 0 turns the caches off."
    )


def limit_error(message: str, code: str, limit: int, **extra: object) -> GraphQLError:
    """The one shape of every limit rejection, so clients can match on `extensions.code`."""
    return GraphQLError(message, extensions={"code": code, "limit": limit, **extra})


# --- cost -------------------------------------------------------------------------------------


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """Estimated field resolutions of the operation that will run: sum of (1 + child cost) x `first`.

    Only fields with a `first` argument multiply (the connection, not its `edges` list), so
    `customers(first: 100) { edges { node { ... } } }` costs about 100 times its node
    selection. Small fixed lists without `first` count once. Introspection is free.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            values[definition.variable.name.value] = value_from_ast_untyped(definition.default_value)
    values.update(variables or {})
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _CostWalker(schema, fragments, values).selection_set(operation.selection_set, root, frozenset())


class _CostWalker:
    def __init__(
        self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selection_set(self, selections: SelectionSetNode, parent: GraphQLNamedType, seen: frozenset[str]) -> int:
        total = 0
        fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                definition = fields.get(selection.name.value)
                if definition is None:  # __typename, introspection, or invalid (validation reports it)
                    continue
                child = 0
                if selection.selection_set is not None:
                    child = self.selection_set(selection.selection_set, get_named_type(definition.type), seen)
                total += (1 + child) * self._multiplier(selection, definition)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(selection.selection_set, target or parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # cycles are rejected by validation
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection_set(fragment.selection_set, target, seen | {name})
        return total

    def _multiplier(self, node: FieldNode, definition: GraphQLField) -> int:
        if "first" not in definition.args:
            return 1
        value: Any = Undefined
        for argument in node.arguments or ():
            if argument.name.value == "first":
                if isinstance(argument.value, VariableNode):
                    value = self.variables.get(argument.value.name.value, Undefined)
                else:
                    value = value_from_ast_untyped(argument.value)
        if value is Undefined or value is None:
            value = definition.args["first"].default_value
        if isinstance(value, int) and not isinstance(value, bool):
            # A negative `first` is refused by the resolver; it must not make the cost negative.
            return max(value, 1)
        return DEFAULT_PAGE_SIZE


class QueryCostLimiter(SchemaExtension):
    """Refuses an operation whose estimated cost exceeds `max_cost`, before any resolver runs.

    It runs at execution, not validation, because `first` is often a variable.
    """

    def __init__(self, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            # strawberry keeps the graphql-core schema only on this attribute.
            core_schema: GraphQLSchema = context.schema._schema  # type: ignore[attr-defined]
            cost = operation_cost(core_schema, document, context.operation_name, context.variables)
            if cost > self.max_cost:
                error = limit_error(
                    f"Query cost {cost} exceeds the limit of {self.max_cost}; ask for smaller pages (`first`) "
                    "or fewer fields.",
                    "QUERY_TOO_COMPLEX",
                    self.max_cost,
                    cost=cost,
                )
                # A result set here makes strawberry skip execution entirely.
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


# --- depth, aliases, tokens ----------------------------------------------------------------------


class _FirstErrorRewritten:
    """Stands in for a ValidationContext so a stock rule reports one error, in our words and with a code."""

    def __init__(self, context: ValidationContext, rewrite: Callable[[ValidationContext, GraphQLError], GraphQLError]):
        self._context = context
        self._rewrite = rewrite
        self._reported = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        # The depth rule reports every branch that is too deep; one error says it all.
        if not self._reported:
            self._reported = True
            self._context.report_error(self._rewrite(self._context, error))


def _rewritten(
    stock: type[ASTValidationRule], rewrite: Callable[[ValidationContext, GraphQLError], GraphQLError]
) -> type[ASTValidationRule]:
    def __init__(self: ASTValidationRule, context: ValidationContext) -> None:
        stock.__init__(self, cast(ValidationContext, _FirstErrorRewritten(context, rewrite)))

    return type(f"Coded{stock.__name__}", (stock,), {"__init__": __init__})


def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    """strawberry's depth rule, reporting QUERY_TOO_DEEP."""

    def rewrite(context: ValidationContext, error: GraphQLError) -> GraphQLError:
        return limit_error(
            f"Query is nested deeper than the limit of {max_depth} levels.", "QUERY_TOO_DEEP", max_depth
        )

    return _rewritten(QueryDepthLimiter(max_depth=max_depth).validation_rules[0], rewrite)


def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    """strawberry's alias rule, reporting TOO_MANY_ALIASES with the count."""

    def rewrite(context: ValidationContext, error: GraphQLError) -> GraphQLError:
        document = context.document
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        count = sum(
            count_fields_with_alias(d, fragments)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        )
        return limit_error(
            f"Query uses {count} aliases; the limit is {max_aliases}.", "TOO_MANY_ALIASES", max_aliases, count=count
        )

    return _rewritten(MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules[0], rewrite)


class LimitedParserCache(ParserCache):
    """strawberry's parser cache, turning the parser's token-limit abort into QUERY_TOO_LONG."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLSyntaxError as exc:
            limit = context.parse_options.get("max_tokens")
            # graphql-core has no error class for this, only its wording.
            if limit is not None and "tokens. Parsing aborted" in exc.message:
                raise limit_error(
                    f"Query has more than {limit} tokens, the limit; send a shorter document.",
                    "QUERY_TOO_LONG",
                    limit,
                ) from None
            raise
        yield


def limit_extensions(limits: GraphQLLimits) -> list[Callable[[], SchemaExtension]]:
    """Schema extensions enforcing `limits`, as factories (strawberry builds them per request).

    The rule classes are built once here: the validation cache keys on them, so a new class
    per request would never hit.
    """
    rules: list[type[ASTValidationRule]] = [depth_rule(limits.max_depth), alias_rule(limits.max_aliases)]
    size = limits.document_cache_size
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: LimitedParserCache(maxsize=size),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=size),
        lambda: QueryCostLimiter(limits.max_cost),
    ]


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GraphQLLimits",
    "LimitedParserCache",
    "QueryCostLimiter",
    "alias_rule",
    "depth_rule",
    "limit_extensions",
    "operation_cost",
]
