"""The simulator's query language: what parses, what it means, and what is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox.quickbooks._query import Condition, OrderBy, Query, QuerySyntaxError, Value, parse
from sandbox.quickbooks._select import Page, QueryValidationError, run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("select * from Customer", Query("Customer")),
        ("SELECT COUNT(*) FROM customer", Query("customer", count=True)),
        (
            "select * from Customer where DisplayName = 'Bill\\'s Windsurf Shop'",
            Query("Customer", where=(Condition("DisplayName", "=", (Value("string", "Bill's Windsurf Shop"),)),)),
        ),
        (
            "Select * From Customer Where Active IN (true, false) And Id in ('1', 2) "
            "OrderBy DisplayName DESC StartPosition 11 MaxResults 10",
            Query(
                "Customer",
                where=(
                    Condition("Active", "IN", (Value("bool", True), Value("bool", False))),
                    Condition("Id", "IN", (Value("string", "1"), Value("number", Decimal(2)))),
                ),
                order_by=(OrderBy("DisplayName", descending=True),),
                start_position=11,
                max_results=10,
            ),
        ),
        (
            "select * from Invoice where MetaData.LastUpdatedTime >= '2024-05-01T00:00:00-07:00' ORDER BY Id",
            Query(
                "Invoice",
                where=(Condition("MetaData.LastUpdatedTime", ">=", (Value("string", "2024-05-01T00:00:00-07:00"),)),),
                order_by=(OrderBy("Id"),),
            ),
        ),
        ("select * from Customer MAXRESULTS 5 STARTPOSITION 3", Query("Customer", start_position=3, max_results=5)),
        (
            "select * from Customer where CompanyName like '%a\\\\b%'",
            Query("Customer", where=(Condition("CompanyName", "LIKE", (Value("string", "%a\\b%"),)),)),
        ),
    ],
)
def test_queries_parse_to_their_meaning(text: str, expected: Query) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "select * from Customer where Id = '1' or Id = '2'",  # OR is not in the language
        "select DisplayName from Customer",  # no column lists
        "select * from Customer where DisplayName = 'unterminated",
        "select * from Customer where Id",
        "select * from Customer where Id != '1'",
        "select * from Customer where Balance like 5",
        "select * from Customer where Id in ()",
        "select * from Customer MAXRESULTS ten",
        "select * from Customer MAXRESULTS 10 MAXRESULTS 10",
        "select * from Customer ; drop table",
        "delete from Customer",
        "",
    ],
)
def test_malformed_queries_are_parse_errors(text: str) -> None:
    with pytest.raises(QuerySyntaxError, match=r"QueryParserError: .* at line 1, column \d+"):
        parse(text)


def test_parse_error_points_at_the_or_keyword() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("select * from Customer where Id = '1' OR Id = '2'")
    assert info.value.column == 39


ROWS: list[dict[str, Any]] = [
    {"Id": "1", "DisplayName": "Bill's Windsurf Shop", "CompanyName": "Bill's Windsurf Shop", "Active": True,
     "PrimaryEmailAddr": {"Address": "surf@example.com"}, "Balance": 85.0,
     "MetaData": {"LastUpdatedTime": "2024-05-20T02:31:44-07:00"}},
    {"Id": "2", "DisplayName": "Amy's Bird Sanctuary", "Active": True, "Balance": 0.0,
     "MetaData": {"LastUpdatedTime": "2024-04-01T10:00:00-07:00"}},
    {"Id": "10", "DisplayName": "Cool Cars", "Active": False, "Balance": 20.5,
     "MetaData": {"LastUpdatedTime": "2024-05-21T00:00:00Z"}},
]


def ids(text: str) -> list[str]:
    result = run(parse(text), ROWS)
    assert isinstance(result, Page)
    return [row["Id"] for row in result.rows]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("select * from Customer", ["1", "2"]),  # implicit Active = true
        ("select * from Customer where Active in (true, false)", ["1", "2", "10"]),
        ("select * from Customer where Active = false", ["10"]),
        ("select * from Customer where DisplayName = 'COOL CARS' and Active in (true,false)", ["10"]),
        ("select * from Customer where DisplayName like '%BIRD%'", ["2"]),
        ("select * from Customer where DisplayName like 'bill%'", ["1"]),
        ("select * from Customer where DisplayName like 'shop'", []),
        ("select * from Customer where PrimaryEmailAddr = 'surf@example.com'", ["1"]),
        ("select * from Customer where Id in ('2', '10', 'x') and Active in (true, false)", ["2", "10"]),
        ("select * from Customer where Balance > '0' and Active in (true, false)", ["1", "10"]),
        ("select * from Customer where Balance <= 20.5 and Active in (true, false)", ["2", "10"]),
        # 2024-05-21T00:00:00Z is 2024-05-20T17:00-07:00: compared as instants, not as text
        ("select * from Customer where MetaData.LastUpdatedTime > '2024-05-20T10:00:00-07:00' "
         "and Active in (true, false)", ["10"]),
        ("select * from Customer where Active in (true, false) orderby Id desc", ["10", "2", "1"]),
        ("select * from Customer where Active in (true, false) orderby DisplayName", ["2", "1", "10"]),
        ("select * from Customer where Active in (true, false) orderby Id startposition 2 maxresults 1", ["2"]),
        ("select * from Customer where Active in (true, false) startposition 4", []),
    ],
)
def test_queries_select_the_matching_rows(text: str, expected: list[str]) -> None:
    assert ids(text) == expected


def test_count_ignores_paging_and_honours_implicit_active() -> None:
    assert run(parse("select count(*) from Customer maxresults 1"), ROWS) == 2
    assert run(parse("select count(*) from Customer where Active in (true, false)"), ROWS) == 3


@pytest.mark.parametrize(
    "text",
    [
        "select * from Customer where PrimaryPhone = '(415) 444-6538'",
        "select * from Customer where Nope = 'x'",
        "select * from Vendor",
        "select * from Customer where MetaData.LastUpdatedTime > 'yesterday'",
        "select * from Customer where DisplayName = 5",
        "select * from Customer orderby PrimaryPhone",
        "select * from Customer startposition 0",
    ],
)
def test_unsupported_filters_are_validation_errors(text: str) -> None:
    with pytest.raises(QueryValidationError, match="QueryValidationError"):
        run(parse(text), ROWS)


def test_maxresults_is_capped_at_one_thousand() -> None:
    rows = [{"Id": str(i), "DisplayName": f"c{i}", "Active": True} for i in range(1, 1502)]
    page = run(parse("select * from Customer maxresults 5000"), rows)
    assert isinstance(page, Page) and len(page.rows) == 1000
    default = run(parse("select * from Customer"), rows)
    assert isinstance(default, Page) and len(default.rows) == 100
