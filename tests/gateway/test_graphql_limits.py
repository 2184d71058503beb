"""Document limits (depth, aliases, tokens, cost) refuse clearly, and parsing/validation are cached."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import get_introspection_query, parse

from gateway.config import Settings
from resolvers.limits import GraphQLLimits, LimitedParserCache, operation_cost
from resolvers.schema import build_schema, schema
from strawberry.extensions import ValidationCache

from tests.gateway._asgi import GQL_RESPONSE, JSON, gateway_client

ROOT = Path(__file__).resolve().parents[2]
CORE = schema._schema


def cost(query: str, variables: dict[str, object] | None = None) -> int:
    return operation_cost(CORE, parse(query), None, variables)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("and run:", 1)[1].split("```graphql", 1)[1].split("```", 1)[0]


def graphiql_default_query() -> str:
    script = (ROOT / "gateway/static/c360-graphiql.js").read_text()
    block = script.split("var defaultQuery = [", 1)[1].split("].join", 1)[0]
    return "\n".join(json.loads(line) for line in re.findall(r'^\s*(".*")', block, flags=re.M))


# --- cost ----------------------------------------------------------------------------------------


def test_page_of_100_costs_100_times_its_node_selection() -> None:
    node = "id name sourceRecords { system id }"
    one = cost(f"{{ customers(first: 1) {{ edges {{ node {{ {node} }} }} }} }}")
    hundred = cost(f"{{ customers(first: 100) {{ edges {{ node {{ {node} }} }} }} }}")

    assert hundred == 100 * one
    # customers(1 + edges(1 + node(1 + id + name + sourceRecords(1 + 2))))
    assert one == 1 + 1 + 1 + 2 + 3


def test_first_from_a_variable_counts_and_absent_first_uses_the_schema_default() -> None:
    query = "query Q($n: Int!) { customers(first: $n) { totalCount } }"

    assert cost(query, {"n": 50}) == 50 * 2
    assert cost("{ customers { totalCount } }") == 20 * 2
    assert cost("query Q($n: Int! = 7) { customers(first: $n) { totalCount } }") == 7 * 2
    assert cost(query, {}) == 20 * 2  # missing variable: execution will refuse it; count the default


def test_fragments_aliases_and_typename_are_counted_once_each() -> None:
    with_fragment = "{ customers(first: 3) { ...C } } fragment C on CustomerConnection { totalCount __typename }"
    aliased = "{ a: customers(first: 3) { totalCount } b: customers(first: 3) { totalCount } }"

    assert cost(with_fragment) == 3 * 2
    assert cost(aliased) == 2 * 3 * 2


def test_introspection_is_free() -> None:
    assert cost(get_introspection_query()) == 0


# --- limits refuse with coded errors ---------------------------------------------------------------

DEEP = "{ customers(first: 1) { edges { node { sourceRecords { system } } } } }"


@pytest.mark.parametrize(
    ("limits", "query", "code", "words"),
    [
        pytest.param(GraphQLLimits(max_depth=3), DEEP, "QUERY_TOO_DEEP", ["deeper", "3"], id="depth"),
        pytest.param(
            GraphQLLimits(max_aliases=2), "{ a: ping b: ping c: ping }", "TOO_MANY_ALIASES", ["3 aliases", "2"],
            id="aliases",
        ),
        pytest.param(
            GraphQLLimits(max_tokens=50), "{ " + "ping " * 60 + "}", "QUERY_TOO_LONG", ["50 tokens"], id="tokens"
        ),
        pytest.param(
            GraphQLLimits(max_cost=400),
            "{ customers(first: 100) { edges { node { id name } } } }",
            "QUERY_TOO_COMPLEX",
            ["cost 500", "400"],
            id="cost",
        ),
    ],
)
async def test_limit_refuses_the_document_naming_the_limit(
    limits: GraphQLLimits, query: str, code: str, words: list[str]
) -> None:
    async with gateway_client(Settings(graphql=limits)) as client:
        strict = await client.post("/graphql", json={"query": query}, headers={"Accept": GQL_RESPONSE})
        legacy = await client.post("/graphql", json={"query": query}, headers={"Accept": JSON})

    assert strict.status_code == 400
    [error] = strict.json()["errors"]
    assert "data" not in strict.json()
    assert error["extensions"]["code"] == code
    assert all(word in error["message"] for word in words), error["message"]
    assert legacy.status_code == 200
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


async def test_cost_limit_sees_first_given_as_a_variable() -> None:
    query = "query Q($n: Int!) { customers(first: $n) { totalCount } }"
    async with gateway_client(Settings(graphql=GraphQLLimits(max_cost=100))) as client:
        fits = await client.post("/graphql", json={"query": query, "variables": {"n": 50}})
        too_big = await client.post("/graphql", json={"query": query, "variables": {"n": 51}})

    assert fits.json()["errors"][0]["extensions"]["code"] == "INTERNAL"  # it ran: the stand-in index is broken
    error = too_big.json()["errors"][0]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": 100, "cost": 102}


async def test_documents_at_the_limits_pass() -> None:
    limits = GraphQLLimits(max_depth=4, max_aliases=2, max_tokens=50, max_cost=3 * 5 + 2)
    async with gateway_client(Settings(graphql=limits)) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ a: ping b: ping customers(first: 3) { edges { node { sourceRecords { system } } } } }"},
        )

    codes = [e["extensions"]["code"] for e in response.json().get("errors", [])]
    assert codes == ["INTERNAL"]  # executed; only the stand-in index failed


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(readme_example(), id="readme-example"),
        pytest.param(graphiql_default_query(), id="graphiql-default"),
        pytest.param(get_introspection_query(descriptions=True), id="graphiql-introspection"),
        pytest.param(
            "{ customers(first: 100) { edges { node { id name email phone status address { line1 city } "
            "sourceRecords { system id url } crm { id } projectManagement { id } billing { balance } } } } }",
            id="full-page",
        ),
    ],
)
async def test_everyday_queries_pass_the_default_limits(query: str) -> None:
    assert "customers" in query or "__schema" in query
    result = await build_schema(GraphQLLimits()).execute(query, context_value=None)

    codes = {(e.extensions or {}).get("code") for e in result.errors or []}
    assert not codes & {"QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "QUERY_TOO_LONG", "QUERY_TOO_COMPLEX"}, result.errors


# --- settings and caches -------------------------------------------------------------------------


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_GRAPHQL__MAX_DEPTH", "8")
    monkeypatch.setenv("C360_GRAPHQL__MAX_ALIASES", "5")
    monkeypatch.setenv("C360_GRAPHQL__MAX_TOKENS", "900")
    monkeypatch.setenv("C360_GRAPHQL__MAX_COST", "1000")
    monkeypatch.setenv("C360_GRAPHQL__DOCUMENT_CACHE_SIZE", "64")

    limits = Settings(_env_file=None).graphql  # type: ignore[call-arg]

    assert limits == GraphQLLimits(max_depth=8, max_aliases=5, max_tokens=900, max_cost=1000, document_cache_size=64)


def test_defaults_are_the_documented_ones() -> None:
    assert GraphQLLimits() == GraphQLLimits(max_depth=12, max_aliases=30, max_tokens=5000, max_cost=50_000)


async def test_repeated_document_is_parsed_and_validated_once() -> None:
    size = 97  # strawberry shares one LRU per size; a size no other test uses keeps the counts ours
    built = build_schema(GraphQLLimits(document_cache_size=size))
    parses = LimitedParserCache(maxsize=size).cached_parse_document
    validations = ValidationCache(maxsize=size).cached_validate_document
    before = (parses.cache_info(), validations.cache_info())

    for _ in range(3):
        result = await built.execute("{ ping }")
        assert result.data == {"ping": "pong"}

    parse_info, validate_info = parses.cache_info(), validations.cache_info()
    assert parse_info.misses - before[0].misses == 1 and parse_info.hits - before[0].hits == 2
    assert validate_info.misses - before[1].misses == 1 and validate_info.hits - before[1].hits == 2


def test_limits_do_not_change_the_exported_schema() -> None:
    assert build_schema(GraphQLLimits(max_depth=2, max_cost=1)).as_str() == schema.as_str()
