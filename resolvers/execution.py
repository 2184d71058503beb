"""A leaner field executor: plain attribute leaves are read and serialized without the general machinery.

Why: a page of 100 whole customer views is ~19,000 fields, most of them scalars read
straight off an object (an invoice's number, an address's city). graphql-core runs
each through the general path: a resolve-info object, argument coercion, strawberry's
resolver wrapper, then value completion, ~15 µs a field, which made the page's
execution alone exceed its latency budget. For a field that has no resolver, no
arguments and a scalar or enum type, the result is exactly `serialize(getattr(source,
name))`, so that is all this path does. Anything unusual (an exception, a null in a
non-null field, a serializer that refuses the value) goes down the general path,
which then produces the same error it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLEnumType, GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

#: (attribute name, serializer, nullable) for a plain leaf; None when the field needs the general path.
LeafReader = tuple[str, Callable[[Any], Any], bool] | None
_NOT_CHECKED = object()
_CACHE_ATTR = "_c360_leaf_reader"


def leaf_reader(field_def: GraphQLField) -> LeafReader:
    """How to read this field directly, worked out once per field definition (cached on it)."""
    cached = field_def.__dict__.get(_CACHE_ATTR, _NOT_CHECKED)
    if cached is not _NOT_CHECKED:
        return cached  # type: ignore[no-any-return]
    reader = _plan(field_def)
    field_def.__dict__[_CACHE_ATTR] = reader
    return reader


def _plan(field_def: GraphQLField) -> LeafReader:
    resolve = field_def.resolve
    if resolve is None or not getattr(resolve, "_is_default", False) or field_def.args:
        return None  # a resolver of ours, or arguments to coerce
    definition = (field_def.extensions or {}).get("strawberry-definition")
    attribute = getattr(definition, "python_name", None)
    if not isinstance(attribute, str) or getattr(definition, "base_resolver", None) is not None:
        return None
    if getattr(definition, "extensions", None) or getattr(definition, "default_resolver", getattr) is not getattr:
        # Field extensions (permission classes among them) run inside the resolver, and a
        # configured default resolver may not be getattr: only the general path does either.
        return None
    field_type = field_def.type
    nullable = not isinstance(field_type, GraphQLNonNull)
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    if not isinstance(field_type, GraphQLScalarType | GraphQLEnumType):
        return None
    return attribute, field_type.serialize, nullable


def _no_middleware(manager: Any) -> bool:
    """strawberry always passes a manager; it wraps resolvers only when an extension has a `resolve` hook."""
    return manager is None or getattr(manager, "_middleware_resolvers", True) is None


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context with the plain-leaf shortcut in front of `execute_field`."""

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if not node.arguments and _no_middleware(self.middleware_manager):
            field_def = parent_type.fields.get(node.name.value)
            reader = leaf_reader(field_def) if field_def is not None else None
            if reader is not None:
                attribute, serialize, nullable = reader
                try:
                    value = getattr(source, attribute)
                    if value is None:
                        if nullable:
                            return None
                    else:
                        serialized = serialize(value)
                        if serialized is not None and serialized is not Undefined:
                            return serialized
                except Exception:  # noqa: BLE001, S110 - the general path below reports it properly
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
