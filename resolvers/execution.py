"""A leaner executor: plain fields, and whole sub-selections made of them, skip the general machinery.

Why: a page of 100 whole customer views is ~19,000 fields, most of them read straight
off an object (an invoice's number, an address's city, a project inside a list).
graphql-core runs each through the general path: a resolve-info object, argument
coercion, strawberry's resolver wrapper, then value completion, several µs a field,
which made the page's execution alone exceed its latency budget.

What is shortcut, exactly: an object's selection is compiled into a plan (once per
request, or once per query when it has no directives). Plain fields (no resolver, no
arguments) are read with `getattr` and serialized; fields whose resolver is marked
`context_only` (it reads nothing of `info` but `info.context`, and takes no arguments)
are called directly; the values are completed by the plans of their own selections
(objects, lists, leaves).

Any field the plan cannot complete exactly (an exception, an awaitable, a null in a
non-null field, a serializer that refuses the value, a resolver that is not marked,
arguments, `@defer`, an interface, middleware, field extensions) goes down graphql-core's
general path on its own, which then produces the same result or error it always did.
Resolvers are reads, so calling one again on that path is harmless.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

F = TypeVar("F", bound=Callable[..., Any])

_NOT_CHECKED = object()
_ATTRIBUTE_ATTR = "_c360_plain_attribute"
_RESOLVER_ATTR = "_c360_direct_resolver"
_CONTEXT_ONLY = "_c360_context_only"


def context_only(resolver: F) -> F:
    """Mark a resolver `(self, info)` that uses only `info.context`, so a plan may call it directly."""
    setattr(resolver, _CONTEXT_ONLY, True)
    return resolver


def direct_resolver(field_def: GraphQLField) -> Callable[[Any, Info], Any] | None:
    """The marked `context_only` resolver function behind a field, when it has no arguments."""
    cached = field_def.__dict__.get(_RESOLVER_ATTR, _NOT_CHECKED)
    if cached is _NOT_CHECKED:
        cached = None
        definition = (field_def.extensions or {}).get("strawberry-definition")
        base = getattr(definition, "base_resolver", None)
        function = getattr(base, "wrapped_func", None)
        if (function is not None and getattr(function, _CONTEXT_ONLY, False) and not field_def.args
                and not getattr(definition, "extensions", None) and not inspect.iscoroutinefunction(function)):
            cached = function
        field_def.__dict__[_RESOLVER_ATTR] = cached
    return cached  # type: ignore[no-any-return]


def plain_attribute(field_def: GraphQLField) -> str | None:
    """The Python attribute a field reads when it is plain (no resolver, arguments or extensions), else None."""
    cached = field_def.__dict__.get(_ATTRIBUTE_ATTR, _NOT_CHECKED)
    if cached is _NOT_CHECKED:
        cached = _attribute_of(field_def)
        field_def.__dict__[_ATTRIBUTE_ATTR] = cached
    return cached  # type: ignore[return-value]


def _attribute_of(field_def: GraphQLField) -> str | None:
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
    return attribute


def _unwrap_non_null(field_type: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if isinstance(field_type, GraphQLNonNull):
        return field_type.of_type, False
    return field_type, True


def _no_middleware(manager: Any) -> bool:
    """strawberry always passes a manager; it wraps resolvers only when an extension has a `resolve` hook."""
    return manager is None or getattr(manager, "_middleware_resolvers", True) is None


class _Irregular(Exception):
    """A value the compiled plan does not complete exactly; the general path takes the field."""


#: How a plan completes one raw value into its response form; the info is the parent object's.
Complete = Callable[[Any, GraphQLResolveInfo], Any]


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    sub_fields: Any
    #: The attribute read (plain field) or None; with `resolver` set the field is computed instead.
    attribute: str | None
    resolver: Callable[[Any, Info], Any] | None
    #: None: the field always takes the general path.
    complete: Complete | None
    nullable: bool
    #: `__typename`'s constant, when that is the field.
    typename: str | None = None


def _value(entry: _Entry, source: Any, info: GraphQLResolveInfo, strawberry_info: Info | None) -> Any:
    """The completed value of one planned field, or _Irregular."""
    if entry.typename is not None:
        return entry.typename
    if entry.complete is None:
        raise _Irregular
    if entry.resolver is not None:
        value = entry.resolver(source, strawberry_info)  # type: ignore[arg-type]  # set whenever a resolver is
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # the general path calls the resolver again and awaits that one
            raise _Irregular
    else:
        value = getattr(source, entry.attribute)  # type: ignore[arg-type]
    if value is None:
        if entry.nullable:
            return None
        raise _Irregular
    return entry.complete(value, info)


def _run(entries: tuple[_Entry, ...], source: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    """Every planned field of `source`, or _Irregular if any of them is not exact."""
    strawberry_info = _strawberry_info(entries, info)
    return {entry.key: _value(entry, source, info, strawberry_info) for entry in entries}


def _strawberry_info(entries: tuple[_Entry, ...], info: GraphQLResolveInfo) -> Info | None:
    """One strawberry Info per object for its directly called resolvers (they read only its context)."""
    return Info(_raw_info=info, _field=None) if any(e.resolver for e in entries) else None  # type: ignore[arg-type]


def _leaf(serialize: Callable[[Any], Any]) -> Complete:
    def complete(value: Any, _info: GraphQLResolveInfo) -> Any:
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise _Irregular
        return serialized
    return complete


def _object(object_type: GraphQLObjectType, entries: tuple[_Entry, ...]) -> Complete:
    is_type_of = object_type.is_type_of

    def complete(value: Any, info: GraphQLResolveInfo) -> Any:
        if is_type_of is not None and is_type_of(value, info) is not True:
            raise _Irregular
        return _run(entries, value, info)
    return complete


def _list(item: Complete, item_nullable: bool) -> Complete:
    def complete(value: Any, info: GraphQLResolveInfo) -> list[Any]:
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            raise _Irregular
        out: list[Any] = []
        for element in value:
            if element is None:
                if not item_nullable:
                    raise _Irregular
                out.append(None)
            else:
                out.append(item(element, info))
        return out
    return complete


class _PlanCache:
    """A bounded LRU of compiled plans; each entry keeps alive the objects whose ids make its key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, ...], tuple[Any, tuple[_Entry, ...] | None]] = OrderedDict()
        self._lock = threading.Lock()  # apps in several threads (tests) may share it

    def get(self, key: tuple[int, ...]) -> tuple[_Entry, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple[int, ...], plan: tuple[_Entry, ...] | None, keep_alive: Any) -> None:
        if plan is None:
            return  # nothing to reuse: the general path needs no plan
        with self._lock:
            self._entries[key] = (keep_alive, plan)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)


class _StaticOperations:
    """Whether an operation (with its fragments) carries no directives, remembered per operation node."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._known: OrderedDict[int, tuple[Any, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, operation: Any, fragments: Mapping[str, Any]) -> bool:
        known = self._known.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        static = not _has_directives(operation) and not any(_has_directives(f) for f in fragments.values())
        with self._lock:
            self._known[id(operation)] = (operation, static)
            if len(self._known) > self.size:
                self._known.popitem(last=False)
        return static


def _has_directives(node: Any) -> bool:
    if getattr(node, "directives", None):
        return True
    selection_set = getattr(node, "selection_set", None)
    return selection_set is not None and any(_has_directives(s) for s in selection_set.selections)


#: Plans of recently seen queries (a few per query type; bounded), shared by every request.
_SHARED_PLANS = _PlanCache(4096)
_STATIC_OPERATIONS = _StaticOperations(1024)


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context with the compiled shortcuts in front of the general path."""

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple[_Entry, ...] | None:
        """The compiled completion of `object_type` for this selection; None under `@defer`.

        Cached per request on the selection's identity (graphql-core memoizes sub-selections the
        same way, so every item of a list shares one); the selection is kept alive with its plan.
        Across requests too, when the operation has no directives: the parsed document is cached,
        so the same query brings the same syntax nodes, and without `@skip`/`@include` the
        selection they make does not depend on the variables.
        """
        plans: dict[tuple[str, int], tuple[Any, tuple[_Entry, ...] | None]] = self.__dict__.setdefault("_c360_plans", {})
        key = (object_type.name, id(field_details_list))
        cached = plans.get(key)
        if cached is None:
            shared_key = self._shared_key(object_type, field_details_list)
            plan = _SHARED_PLANS.get(shared_key) if shared_key is not None else None
            if plan is None:
                plan = self._compile(object_type, field_details_list)
                if shared_key is not None:
                    _SHARED_PLANS.put(shared_key, plan, keep_alive=(object_type, field_details_list))
            cached = (field_details_list, plan)
            plans[key] = cached
        return cached[1]

    def _shared_key(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple[int, ...] | None:
        static = self.__dict__.get("_c360_static")
        if static is None:
            static = _STATIC_OPERATIONS.check(self.operation, self.fragments)
            self.__dict__["_c360_static"] = static
        if not static or any(d.fragment_variable_values is not None for d in field_details_list):
            return None
        return (id(object_type), *(id(d.node) for d in field_details_list))

    def _compile(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple[_Entry, ...] | None:
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        entries: list[_Entry] = []
        for key, sub_fields in grouped_field_set.items():
            node = sub_fields[0].node
            name = node.name.value
            if name == "__typename":
                entries.append(_Entry(key, sub_fields, None, None, None, False, typename=object_type.name))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None:
                return None  # graphql-core skips unknown fields; leave that to it
            attribute = None if node.arguments else plain_attribute(field_def)
            resolver = None if node.arguments or attribute is not None else direct_resolver(field_def)
            field_type, nullable = _unwrap_non_null(field_def.type)
            complete = self._completion(field_type, sub_fields) if attribute or resolver else None
            entries.append(_Entry(key, sub_fields, attribute, resolver, complete, nullable))
        return tuple(entries)

    def _completion(self, field_type: GraphQLOutputType, sub_fields: Any) -> Complete | None:
        if isinstance(field_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(field_type.serialize)
        if isinstance(field_type, GraphQLObjectType):
            entries = self._plan(field_type, sub_fields)
            if entries is None or any(e.complete is None and e.typename is None for e in entries):
                return None  # only wholly compiled objects nest; a mixed one completes field by field
            return _object(field_type, entries)
        if isinstance(field_type, GraphQLList):
            item_type, item_nullable = _unwrap_non_null(field_type.of_type)
            item = self._completion(item_type, sub_fields)
            return _list(item, item_nullable) if item is not None else None
        return None  # interfaces and unions resolve their runtime type: the general path does

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object completed by its plan: planned fields directly, the others each by the general path."""
        if not _no_middleware(self.middleware_manager):
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        entries = self._plan(return_type, field_details_list)
        if entries is None or all(e.complete is None for e in entries):
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        is_type_of = return_type.is_type_of
        if is_type_of is not None and is_type_of(result, info) is not True:
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        strawberry_info = _strawberry_info(entries, info)
        results: dict[str, Any] = {}
        pending: list[str] = []
        for entry in entries:
            if entry.complete is not None or entry.typename is not None:
                try:
                    results[entry.key] = _value(entry, result, info, strawberry_info)
                    continue
                except Exception:  # noqa: BLE001, S110 - the general path below reports it properly
                    pass
            try:
                value = self.execute_field(
                    return_type, result, entry.sub_fields, Path(path, entry.key, return_type.name), position_context
                )
            except Exception:
                # A null bubbling up from a non-null field: settle what others started, as graphql-core does.
                if pending:
                    self.settle_in_background([results[key] for key in pending])
                raise
            if value is Undefined:
                continue
            results[entry.key] = value
            if self.is_awaitable(value):
                pending.append(entry.key)
        if not pending:
            return results
        return self._gather(results, pending)

    async def _gather(self, results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
        values = await gather_with_cancel(*(results[key] for key in pending))
        results.update(zip(pending, values, strict=True))
        return results
