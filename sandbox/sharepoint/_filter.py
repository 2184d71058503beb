"""The OData `$filter` subset SharePoint list items understand, evaluated over wire `fields`.

Supported: `fields/X eq|ne|gt|ge|lt|le <literal>`, `startswith(fields/X,'..')`, `and`,
`or` (see fidelity), `not`, parentheses. String literals use single quotes, `''` escapes one.

Besides the predicate, a parsed filter names the equalities (`fields/X eq 'v'`) that every
match must satisfy, so a list can find candidates through an index (`equality_keys`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.sharepoint import fidelity

Predicate = Callable[[Mapping[str, Any]], bool]
#: `(column, literal)` of an `eq` comparison.
Equality = tuple[str, Any]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_/]*)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)

_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


class FilterError(ValueError):
    """The filter cannot be parsed or names something that cannot be filtered."""


@dataclass
class ParsedFilter:
    predicate: Predicate
    #: Columns the filter references (the caller checks them against the indexed set).
    columns: set[str] = field(default_factory=set)
    #: Every matching item satisfies at least one of these; None when the filter gives no such set.
    equalities: tuple[Equality, ...] | None = None


@dataclass(frozen=True)
class _Clause:
    """A parsed sub-expression: its predicate and, when known, equalities one of which it implies."""

    predicate: Predicate
    equalities: tuple[Equality, ...] | None = None


def _narrowest_of_all(clauses: list[_Clause]) -> tuple[Equality, ...] | None:
    """For `and`: any conjunct's equalities hold, so take the shortest list."""
    known = [c.equalities for c in clauses if c.equalities is not None]
    return min(known, key=len) if known else None


def _union_of_all(clauses: list[_Clause]) -> tuple[Equality, ...] | None:
    """For `or`: a match satisfies some disjunct, so only a union over all of them holds."""
    if any(c.equalities is None for c in clauses):
        return None
    return tuple(eq for c in clauses for eq in c.equalities or ())


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"Invalid filter clause: unexpected text at position {pos}.")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _as_datetime(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _normalize(value: Any) -> Any:
    if isinstance(value, str) and fidelity.FILTER_CASE_INSENSITIVE:
        return value.casefold()
    return value


def _comparable_keys(value: str | int | float) -> list[Hashable]:
    """One key per way `_compare` may find `value` equal to another: as number, moment, or text."""
    keys: list[Hashable] = [("text", _normalize(str(value)))]
    if (number := _as_number(value)) is not None:
        keys.append(("number", number))
    if isinstance(value, str) and (moment := _as_datetime(value)) is not None:
        keys.append(("moment", moment))
    return keys


#: Index key of stored values `_compare` treats in ways `_comparable_keys` does not cover
#: (booleans, objects); every lookup includes it, so those items are always candidates.
_ANY_KEY: Hashable = ("any",)


def equality_keys(value: Any) -> list[Hashable]:
    """Index keys of a stored column value: `eq` can only hold when they meet `literal_keys`."""
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return [_ANY_KEY]
    return _comparable_keys(value)


def literal_keys(literal: str | int | float) -> list[Hashable]:
    """The keys to look up for `column eq literal` (a literal that is neither null nor a boolean)."""
    return [_ANY_KEY, *_comparable_keys(literal)]


def _compare(left: Any, op: str, right: Any) -> bool:
    if right is None or left is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return False
    a: Any
    b: Any
    if isinstance(left, bool) or isinstance(right, bool):
        a, b = left, right
        if isinstance(a, str):
            a = a.lower() == "true"
        if op in ("eq", "ne"):
            return (a == b) == (op == "eq")
        return False
    left_n, right_n = _as_number(left), _as_number(right)
    if left_n is not None and right_n is not None:
        a, b = left_n, right_n
    else:
        left_d = _as_datetime(left) if isinstance(left, str) else None
        right_d = _as_datetime(right) if isinstance(right, str) else None
        if left_d is not None and right_d is not None and (left_d.tzinfo is None) == (right_d.tzinfo is None):
            a, b = left_d, right_d
        else:
            a, b = _normalize(str(left)), _normalize(str(right))
    return {
        "eq": a == b,
        "ne": a != b,
        "gt": a > b,
        "ge": a >= b,
        "lt": a < b,
        "le": a <= b,
    }[op]


class _Parser:
    def __init__(self, text: str, known_columns: Callable[[str], bool]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.known = known_columns
        self.columns: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("Invalid filter clause: unexpected end of expression.")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.next()
        if text.lower() != value:
            raise FilterError(f"Invalid filter clause: expected '{value}' but found '{text}'.")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> ParsedFilter:
        clause = self.parse_or()
        if self.peek() is not None:
            raise FilterError(f"Invalid filter clause: unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return ParsedFilter(clause.predicate, self.columns, clause.equalities)

    def parse_or(self) -> _Clause:
        parts = [self.parse_and()]
        while self.keyword("or"):
            if not fidelity.FILTER_SUPPORTS_OR:
                raise FilterError("Invalid filter clause: 'or' is not supported on list items.")
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        predicates = [p.predicate for p in parts]
        return _Clause(lambda item: any(p(item) for p in predicates), _union_of_all(parts))

    def parse_and(self) -> _Clause:
        parts = [self.parse_unary()]
        while self.keyword("and"):
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        predicates = [p.predicate for p in parts]
        return _Clause(lambda item: all(p(item) for p in predicates), _narrowest_of_all(parts))

    def parse_unary(self) -> _Clause:
        if self.keyword("not"):
            inner = self.parse_unary().predicate
            return _Clause(lambda item: not inner(item))
        token = self.peek()
        if token == ("punct", "("):
            self.next()
            clause = self.parse_or()
            self.expect(")")
            return clause
        if token is not None and token[0] == "name" and token[1].lower() == "startswith":
            return _Clause(self.parse_startswith())
        return self.parse_comparison()

    def parse_startswith(self) -> Predicate:
        self.next()
        self.expect("(")
        column = self.parse_column()
        self.expect(",")
        prefix = self.parse_literal()
        self.expect(")")
        if not isinstance(prefix, str):
            raise FilterError("Invalid filter clause: startswith needs a string literal.")
        wanted = True
        if self.keyword("eq"):
            literal = self.parse_literal()
            if not isinstance(literal, bool):
                raise FilterError("Invalid filter clause: startswith(...) can only be compared with true/false.")
            wanted = literal
        needle = _normalize(prefix)

        def predicate(item: Mapping[str, Any]) -> bool:
            value = item.get(column)
            hit = isinstance(value, str) and _normalize(value).startswith(needle)
            return hit == wanted

        return predicate

    def parse_comparison(self) -> _Clause:
        column = self.parse_column()
        kind, op = self.next()
        op = op.lower()
        if kind != "name" or op not in _COMPARISONS:
            raise FilterError(f"Invalid filter clause: unsupported operator '{op}'.")
        literal = self.parse_literal()
        # `eq null` and `eq true/false` follow other rules in `_compare`; those are not narrowed.
        indexable = op == "eq" and literal is not None and not isinstance(literal, bool)
        return _Clause(lambda item: _compare(item.get(column), op, literal),
                       ((column, literal),) if indexable else None)

    def parse_column(self) -> str:
        kind, text = self.next()
        if kind != "name":
            raise FilterError(f"Invalid filter clause: expected a field but found '{text}'.")
        if text.lower() == "id":
            name = "id"
        elif text.startswith("fields/"):
            name = text[len("fields/"):]
            if name.lower() == "id":
                name = "id"
        else:
            raise FilterError(
                f"Invalid filter clause: '{text}' cannot be filtered; filter list item columns as fields/<name>."
            )
        if not self.known(name):
            raise FilterError(f"Field '{name}' is not recognized.")
        self.columns.add(name)
        return name

    def parse_literal(self) -> Any:
        kind, text = self.next()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "datetime":
            return text
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "name" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "name" and text.lower() == "null":
            return None
        raise FilterError(f"Invalid filter clause: expected a literal but found '{text}'.")


def parse_filter(text: str, known_columns: Callable[[str], bool]) -> ParsedFilter:
    """Parse `$filter`; raises FilterError with a message fit for a 400 invalidRequest."""
    if not text.strip():
        raise FilterError("Invalid filter clause: empty expression.")
    return _Parser(text, known_columns).parse()
