"""The OData `$filter` subset SharePoint list items understand, evaluated over wire `fields`.

Supported: `fields/X eq|ne|gt|ge|lt|le <literal>`, `startswith(fields/X,'..')`, `and`,
`or` (see fidelity), `not`, parentheses. String literals use single quotes, `''` escapes one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.sharepoint import fidelity

Predicate = Callable[[Mapping[str, Any]], bool]

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
        predicate = self.parse_or()
        if self.peek() is not None:
            raise FilterError(f"Invalid filter clause: unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return ParsedFilter(predicate, self.columns)

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.keyword("or"):
            if not fidelity.FILTER_SUPPORTS_OR:
                raise FilterError("Invalid filter clause: 'or' is not supported on list items.")
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda item: any(p(item) for p in parts)

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.keyword("and"):
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda item: all(p(item) for p in parts)

    def parse_unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.parse_unary()
            return lambda item: not inner(item)
        token = self.peek()
        if token == ("punct", "("):
            self.next()
            inner = self.parse_or()
            self.expect(")")
            return inner
        if token is not None and token[0] == "name" and token[1].lower() == "startswith":
            return self.parse_startswith()
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

    def parse_comparison(self) -> Predicate:
        column = self.parse_column()
        kind, op = self.next()
        op = op.lower()
        if kind != "name" or op not in _COMPARISONS:
            raise FilterError(f"Invalid filter clause: unsupported operator '{op}'.")
        literal = self.parse_literal()
        return lambda item: _compare(item.get(column), op, literal)

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
