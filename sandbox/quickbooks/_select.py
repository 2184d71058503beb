"""Running a parsed query over stored records: filter, implicit `Active`, order, page, count."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox._store import Collection
from sandbox.quickbooks import fidelity
from sandbox.quickbooks._query import Condition, Query, Value
from sandbox.quickbooks._wire import COMPANY_TZ


class QueryValidationError(ValueError):
    """The query parses but asks for something the entity does not support."""

    def __init__(self, message: str) -> None:
        super().__init__(f"QueryValidationError: {message}")


@dataclass(frozen=True, slots=True)
class EntitySchema:
    name: str  # as it appears in the response envelope
    queryable: Mapping[str, tuple[str, str]]  # field as written -> (path in the record, kind)
    implicit_active: bool  # name-list entities hide inactive rows unless Active is filtered


CUSTOMER = EntitySchema("Customer", fidelity.CUSTOMER_QUERYABLE, implicit_active=True)
INVOICE = EntitySchema("Invoice", fidelity.INVOICE_QUERYABLE, implicit_active=False)
ENTITIES = {schema.name.lower(): schema for schema in (CUSTOMER, INVOICE)}
#: Kinds whose stored value always coerces without error, so an index over them is total.
_INDEXED_KINDS = frozenset({"id", "str"})


@dataclass(frozen=True, slots=True)
class Page:
    entity: str
    rows: list[dict[str, Any]]
    start_position: int


def schema_for(query: Query) -> EntitySchema:
    schema = ENTITIES.get(query.entity.lower())
    if schema is None:
        raise QueryValidationError(f"entity '{query.entity}' is not supported")
    return schema


def run(query: Query, rows: Iterable[dict[str, Any]] | Collection) -> Page | int:
    """The matching page (or the count for `count(*)`); raises QueryValidationError.

    Given a store `Collection`, an `=`/`IN` condition on an id or text field picks the
    candidate rows through an index instead of a scan; every condition still applies.
    """
    schema = schema_for(query)
    predicates = [_predicate(schema, c) for c in query.where]
    if schema.implicit_active and not any(_canonical(schema, c.field) == "Active" for c in query.where):
        predicates.append(lambda row: row.get("Active", True) is True)
    matches = [row for row in _candidates(schema, query, rows) if all(p(row) for p in predicates)]
    if query.count:
        return len(matches)
    for order in reversed(query.order_by or ()):
        path, kind = _lookup(schema, order.field)
        present = [r for r in matches if _coerce_stored(_get(r, path), kind) is not None]
        absent = [r for r in matches if _coerce_stored(_get(r, path), kind) is None]
        present.sort(key=lambda r: _coerce_stored(_get(r, path), kind), reverse=order.descending)
        matches = present + absent
    start = 1 if query.start_position is None else query.start_position
    if start < 1:
        raise QueryValidationError("STARTPOSITION must be 1 or more")
    size = fidelity.DEFAULT_MAX_RESULTS if query.max_results is None else query.max_results
    if size < 1:
        raise QueryValidationError("MAXRESULTS must be 1 or more")
    if size > fidelity.MAX_MAX_RESULTS:
        if not fidelity.CLAMP_MAX_RESULTS:
            raise QueryValidationError(f"MAXRESULTS must be at most {fidelity.MAX_MAX_RESULTS}")
        size = fidelity.MAX_MAX_RESULTS
    return Page(schema.name, matches[start - 1 : start - 1 + size], start)


def _candidates(
    schema: EntitySchema, query: Query, rows: Iterable[dict[str, Any]] | Collection
) -> Iterable[dict[str, Any]]:
    """Rows that may match, in id order: an index lookup when a condition allows one, else all.

    Called after the predicates are built, so a bad condition fails as it always did.
    """
    if not isinstance(rows, Collection):
        return rows
    for cond in query.where:
        path, kind = _lookup(schema, cond.field)
        if cond.op in ("=", "IN") and kind in _INDEXED_KINDS:
            wanted = {w for v in cond.values if (w := _coerce_literal(v, kind, cond.field)) is not None}
            return rows.find(f"{path}:{kind}", _stored_key(path, kind), wanted)
    return rows.all()


def _stored_key(path: str, kind: str) -> Callable[[dict[str, Any]], tuple[Any]]:
    """The index key of a row: its value as `=`/`IN` compares it (see `_predicate`)."""
    return lambda row: (_coerce_stored(_get(row, path), kind),)


def _canonical(schema: EntitySchema, field: str) -> str | None:
    for name in schema.queryable:
        if name.lower() == field.lower():
            return name
    return None


def _lookup(schema: EntitySchema, field: str) -> tuple[str, str]:
    name = _canonical(schema, field)
    if name is None:
        raise QueryValidationError(f"property '{field}' is not queryable")
    return schema.queryable[name]


def _get(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _predicate(schema: EntitySchema, cond: Condition) -> Callable[[Mapping[str, Any]], bool]:
    path, kind = _lookup(schema, cond.field)
    if cond.op == "LIKE":
        if kind != "str":
            raise QueryValidationError(f"LIKE is not supported on '{cond.field}'")
        pattern = _like_regex(str(cond.values[0].value))
        return lambda row: isinstance(v := _get(row, path), str) and pattern.fullmatch(v) is not None
    wanted = [_coerce_literal(v, kind, cond.field) for v in cond.values]
    if cond.op in ("=", "IN"):
        targets = {w for w in wanted if w is not None}
        return lambda row: _coerce_stored(_get(row, path), kind) in targets
    if kind == "bool":
        raise QueryValidationError(f"operator {cond.op} is not supported on '{cond.field}'")
    target = wanted[0]
    compare = {"<": lambda a, b: a < b, ">": lambda a, b: a > b,
               "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}[cond.op]

    def check(row: Mapping[str, Any]) -> bool:
        stored = _coerce_stored(_get(row, path), kind)
        return stored is not None and target is not None and compare(stored, target)

    return check


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.split("%")]
    flags = re.IGNORECASE | re.DOTALL if fidelity.CASE_INSENSITIVE_STRINGS else re.DOTALL
    return re.compile(".*".join(parts), flags)


def _fold(text: str) -> str:
    return text.casefold() if fidelity.CASE_INSENSITIVE_STRINGS else text


def _coerce_literal(value: Value, kind: str, field: str) -> Any:
    """The literal as a comparable value; None when it can never match (an id like 'abc')."""
    raw = value.value
    if kind == "id":
        try:
            return int(str(raw))
        except ValueError:
            return None
    if kind == "str":
        if value.kind != "string":
            raise QueryValidationError(f"'{field}' needs a quoted string")
        return _fold(str(raw))
    if kind == "bool":
        if value.kind == "bool":
            return raw
        if value.kind == "string" and str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise QueryValidationError(f"'{field}' needs true or false")
    if kind == "num":
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise QueryValidationError(f"'{field}' needs a number") from None
    if kind == "date":
        parsed = _parse_moment(str(raw))
        if parsed is None:
            raise QueryValidationError(f"'{field}' needs a date like '2024-05-01'")
        return parsed.date()
    parsed = _parse_moment(str(raw))
    if parsed is None:
        raise QueryValidationError(f"'{field}' needs a timestamp like '2024-05-01T00:00:00-07:00'")
    return parsed


def _coerce_stored(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "id":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if kind == "str":
        return _fold(str(value))
    if kind == "bool":
        return bool(value)
    if kind == "num":
        return Decimal(str(value))
    moment = _parse_moment(str(value))
    if moment is None:
        return None
    return moment.date() if kind == "date" else moment


def _parse_moment(text: str) -> datetime | None:
    """ISO timestamp or date; without an offset it is company-local time."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), COMPANY_TZ)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=COMPANY_TZ)
