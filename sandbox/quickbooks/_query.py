"""The QuickBooks query language: a tokenizer and a small recursive-descent parser.

Grammar (keywords case-insensitive; source-apis.md 3.2)::

    query     := SELECT (STAR | COUNT '(' STAR ')') FROM word [WHERE cond (AND cond)*]
                 [ORDERBY order (',' order)*] [STARTPOSITION int] [MAXRESULTS int]
    cond      := field ('=' | '<' | '>' | '<=' | '>=') literal
               | field IN '(' literal (',' literal)* ')'
               | field LIKE string
    order     := field [ASC | DESC]
    literal   := string | number | TRUE | FALSE

`OR`, joins, functions and column lists are not part of the language: they are parse
errors, as on the real service. `ORDER BY` (two words) is accepted as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal as TypingLiteral

from sandbox.quickbooks import fidelity

TokenKind = TypingLiteral["word", "string", "number", "op", "punct", "end"]
_KEYWORDS = frozenset({
    "select", "from", "where", "and", "or", "not", "in", "like", "orderby", "order", "by", "asc", "desc",
    "startposition", "maxresults", "count", "true", "false",
})
_COMPARISONS = frozenset({"=", "<", ">", "<=", ">="})


class QuerySyntaxError(ValueError):
    """The text is not a query; `column` is 1-based, as the service reports it."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"QueryParserError: {message} at line 1, column {column}.")
        self.column = column


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    column: int
    value: object = None

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


@dataclass(frozen=True, slots=True)
class Value:
    """A literal as written: `kind` is string, number or bool."""

    kind: TypingLiteral["string", "number", "bool"]
    value: str | Decimal | bool


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str  # one of = < > <= >= IN LIKE
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class OrderBy:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    entity: str
    count: bool = False
    where: tuple[Condition, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    start_position: int | None = None
    max_results: int | None = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch == "'":
            i, literal = _read_string(text, i)
            tokens.append(Token("string", text[col - 1 : i], col, literal))
        elif ch.isdigit() or (ch in "-+" and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            raw = text[i:j]
            try:
                number = Decimal(raw)
            except InvalidOperation:
                raise QuerySyntaxError(f'Encountered "{raw}"', col) from None
            tokens.append(Token("number", raw, col, number))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_."):
                j += 1
            tokens.append(Token("word", text[i:j], col))
            i = j
        elif text.startswith(("<=", ">=", "!=", "<>"), i):
            tokens.append(Token("op", text[i : i + 2], col))
            i += 2
        elif ch in "=<>":
            tokens.append(Token("op", ch, col))
            i += 1
        elif ch in "*,()":
            tokens.append(Token("punct", ch, col))
            i += 1
        else:
            raise QuerySyntaxError(f'Lexical error: encountered "{ch}"', col)
    tokens.append(Token("end", "<EOF>", n + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[int, str]:
    """Read a quoted literal starting at `start`; returns (index after it, unescaped value)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and fidelity.BACKSLASH_ESCAPES_ANY_CHARACTER and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == "'":
            return i + 1, "".join(out)
        else:
            out.append(ch)
            i += 1
    raise QuerySyntaxError("Lexical error: unterminated string literal", start + 1)


def parse(text: str) -> Query:
    """Parse one query; raises QuerySyntaxError."""
    return _Parser(tokenize(text)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._pos = 0

    @property
    def _peek(self) -> Token:
        return self._tokens[self._pos]

    def _next(self) -> Token:
        token = self._tokens[self._pos]
        if token.kind != "end":
            self._pos += 1
        return token

    def _fail(self, token: Token, expecting: str) -> QuerySyntaxError:
        return QuerySyntaxError(f'Encountered "{token.text}"; was expecting {expecting}', token.column)

    def _keyword(self, *words: str) -> Token:
        token = self._next()
        if not token.is_keyword(*words):
            raise self._fail(token, " or ".join(w.upper() for w in words))
        return token

    def _punct(self, char: str) -> None:
        token = self._next()
        if token.kind != "punct" or token.text != char:
            raise self._fail(token, f'"{char}"')

    def _field(self) -> str:
        token = self._next()
        if token.kind != "word" or token.text.lower() in _KEYWORDS:
            raise self._fail(token, "a field name")
        return token.text

    def _integer(self) -> int:
        token = self._next()
        if token.kind != "number" or not isinstance(token.value, Decimal) or token.value != token.value.to_integral():
            raise self._fail(token, "an integer")
        return int(token.value)

    def query(self) -> Query:
        self._keyword("select")
        count = False
        if self._peek.is_keyword("count"):
            self._next()
            self._punct("(")
            self._punct("*")
            self._punct(")")
            count = True
        else:
            self._punct("*")
        self._keyword("from")
        entity = self._field()
        where: list[Condition] = []
        if self._peek.is_keyword("where"):
            self._next()
            where.append(self._condition())
            while self._peek.is_keyword("and"):
                self._next()
                where.append(self._condition())
        order_by: list[OrderBy] = []
        if self._peek.is_keyword("orderby", "order"):
            if self._next().is_keyword("order"):
                self._keyword("by")
            order_by.append(self._order())
            while self._peek.kind == "punct" and self._peek.text == ",":
                self._next()
                order_by.append(self._order())
        start = max_results = None
        while self._peek.is_keyword("startposition", "maxresults"):
            which = self._next().text.lower()
            if which == "startposition" and start is None:
                start = self._integer()
            elif which == "maxresults" and max_results is None:
                max_results = self._integer()
            else:
                raise self._fail(self._tokens[self._pos - 1], "<EOF>")
        if self._peek.kind != "end":
            raise self._fail(self._peek, "AND, ORDERBY, STARTPOSITION, MAXRESULTS or <EOF>")
        return Query(entity, count, tuple(where), tuple(order_by), start, max_results)

    def _condition(self) -> Condition:
        field = self._field()
        token = self._next()
        if token.kind == "op" and token.text in _COMPARISONS:
            return Condition(field, token.text, (self._literal(),))
        if token.is_keyword("in"):
            self._punct("(")
            values = [self._literal()]
            while self._peek.kind == "punct" and self._peek.text == ",":
                self._next()
                values.append(self._literal())
            self._punct(")")
            return Condition(field, "IN", tuple(values))
        if token.is_keyword("like"):
            literal = self._literal()
            if literal.kind != "string":
                raise self._fail(self._tokens[self._pos - 1], "a quoted string")
            return Condition(field, "LIKE", (literal,))
        raise self._fail(token, "=, <, >, <=, >=, IN or LIKE")

    def _order(self) -> OrderBy:
        field = self._field()
        descending = False
        if self._peek.is_keyword("asc", "desc"):
            descending = self._next().text.lower() == "desc"
        return OrderBy(field, descending)

    def _literal(self) -> Value:
        token = self._next()
        if token.kind == "string":
            return Value("string", str(token.value))
        if token.kind == "number":
            assert isinstance(token.value, Decimal)
            return Value("number", token.value)
        if token.is_keyword("true", "false"):
            return Value("bool", token.text.lower() == "true")
        raise self._fail(token, "a literal")
