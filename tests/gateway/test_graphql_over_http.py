"""The /graphql endpoint speaks GraphQL-over-HTTP: media types, status codes and refusals a client can act on.

Most cases drive the ASGI app directly over a stand-in index; a few go over real HTTP
through the `stack` fixture to prove the served gateway behaves the same.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from gateway.app import negotiate_media_type
from tests.gateway._asgi import GQL_RESPONSE, JSON, gateway_client

async def post(query: str, accept: str | None = None, **kw: Any) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    async with gateway_client() as client:
        return await client.post("/graphql", json={"query": query, **kw}, headers=headers)


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


# --- Accept negotiation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GQL_RESPONSE, GQL_RESPONSE),
        (f"{GQL_RESPONSE}, {JSON};q=0.9", GQL_RESPONSE),
        (f"{GQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{JSON}, {GQL_RESPONSE}", GQL_RESPONSE),
        (f"text/html, {GQL_RESPONSE};q=0", None),
        ("text/html", None),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
    ],
)
def test_accept_header_picks_the_response_media_type(accept: str | None, expected: str | None) -> None:
    assert negotiate_media_type(accept) == expected


async def test_new_media_type_is_answered_in_kind() -> None:
    response = await post("{ ping }", accept=f"{GQL_RESPONSE}, {JSON};q=0.9")

    assert response.status_code == 200
    assert media(response) == GQL_RESPONSE
    assert "utf-8" in response.headers["content-type"]
    assert response.json() == {"data": {"ping": "pong"}}


async def test_no_accept_header_gets_legacy_json() -> None:
    response = await post("{ ping }")

    assert response.status_code == 200
    assert media(response) == JSON


async def test_accept_with_no_json_type_is_406() -> None:
    response = await post("{ ping }", accept="text/csv")

    assert response.status_code == 406
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "NOT_ACCEPTABLE"
    assert GQL_RESPONSE in error["message"]


# --- status codes per media type -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "operation"),
    [
        pytest.param("{ customers( }", None, id="syntax-error"),
        pytest.param("{ noSuchField }", None, id="validation-error"),
        pytest.param("query A { ping } query B { ping }", "C", id="unknown-operation"),
    ],
)
async def test_document_that_cannot_run_is_400_without_data_for_the_new_type(query: str, operation: str | None) -> None:
    response = await post(query, accept=GQL_RESPONSE, operationName=operation)

    assert response.status_code == 400
    assert media(response) == GQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "operation"), [("{ customers( }", None), ("{ noSuchField }", None), ("query A { ping }", "B")]
)
async def test_document_that_cannot_run_is_200_for_legacy_json(query: str, operation: str | None) -> None:
    response = await post(query, accept=JSON, operationName=operation)

    assert response.status_code == 200
    assert media(response) == JSON
    body = response.json()
    assert "data" not in body
    assert body["errors"]


async def test_variables_that_do_not_coerce_are_a_request_error() -> None:
    query = "query Q($n: Int!) { customers(first: $n) { totalCount } }"

    strict = await post(query, accept=GQL_RESPONSE, variables={"n": "many"})
    legacy = await post(query, accept=JSON, variables={"n": "many"})

    assert strict.status_code == 400 and "data" not in strict.json()
    assert legacy.status_code == 200 and "$n" in legacy.json()["errors"][0]["message"]


@pytest.mark.parametrize("accept", [GQL_RESPONSE, JSON])
async def test_document_that_executes_is_200_even_with_field_errors(accept: str) -> None:
    response = await post('{ ping customer(id: "cus_1") { id } }', accept=accept)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"ping": "pong", "customer": None}
    assert body["errors"][0]["path"] == ["customer"]


# --- methods and bodies --------------------------------------------------------------------------


async def test_query_over_get_runs() -> None:
    async with gateway_client() as client:
        response = await client.get("/graphql", params={"query": "{ ping }"}, headers={"Accept": GQL_RESPONSE})

    assert response.status_code == 200
    assert response.json() == {"data": {"ping": "pong"}}


@pytest.mark.parametrize("accept", [GQL_RESPONSE, JSON])
async def test_mutation_over_get_is_405_allowing_post(accept: str) -> None:
    mutation = 'mutation { mergeCustomers(into: "a", from: "b", decidedBy: "x") { __typename } }'
    async with gateway_client() as client:
        response = await client.get("/graphql", params={"query": mutation}, headers={"Accept": accept})

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_body_that_is_not_json_is_400_saying_so() -> None:
    async with gateway_client() as client:
        response = await client.post(
            "/graphql", content=b"{ping", headers={"Content-Type": JSON, "Accept": GQL_RESPONSE}
        )

    assert response.status_code == 400
    assert media(response) == GQL_RESPONSE
    assert "JSON" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "payload", [{"variables": {}}, {"query": ""}, {"query": 42}, ["{ ping }"], "{ ping }"], ids=repr
)
async def test_body_without_a_query_string_is_400(payload: object) -> None:
    async with gateway_client() as client:
        response = await client.post("/graphql", json=payload, headers={"Accept": JSON})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "query" in error["message"]


async def test_get_without_a_query_and_without_html_is_400() -> None:
    async with gateway_client() as client:
        response = await client.get("/graphql", headers={"Accept": GQL_RESPONSE})

    assert response.status_code == 400
    assert "query" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/graphql"])
async def test_unsupported_content_type_is_415(content_type: str) -> None:
    async with gateway_client() as client:
        response = await client.post("/graphql", content=b"{ ping }", headers={"Content-Type": content_type})

    assert response.status_code == 415
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert JSON in error["message"]


async def test_post_without_content_type_is_415() -> None:
    async with gateway_client() as client:
        response = await client.post("/graphql", content=b'{"query": "{ ping }"}')

    assert response.status_code == 415
    assert "got none" in response.json()["errors"][0]["message"]


async def test_json_with_a_charset_is_accepted() -> None:
    async with gateway_client() as client:
        response = await client.post(
            "/graphql", content=b'{"query": "{ ping }"}', headers={"Content-Type": "application/json; charset=utf-8"}
        )

    assert response.status_code == 200
    assert response.json() == {"data": {"ping": "pong"}}


async def test_graphiql_page_still_served_to_a_browser() -> None:
    async with gateway_client() as client:
        response = await client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


# --- internal errors -----------------------------------------------------------------------------


async def test_resolver_crash_is_masked_with_the_request_id_and_logged_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="c360.resolvers")
    async with gateway_client() as client:
        response = await client.post(
            "/graphql", json={"query": '{ customer(id: "cus_1") { id } }'}, headers={"Accept": GQL_RESPONSE}
        )

    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["message"] == "Internal error."
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert "exploded" not in response.text
    [record] = [r for r in caplog.records if r.name == "c360.resolvers" and r.exc_info]
    assert getattr(record, "request_id") == request_id
    assert record.exc_info is not None and "index exploded" in str(record.exc_info[1])


async def test_callers_request_id_is_the_one_in_the_masked_error() -> None:
    async with gateway_client() as client:
        response = await client.post(
            "/graphql", json={"query": '{ customer(id: "cus_1") { id } }'}, headers={"X-Request-Id": "trace-42"}
        )

    assert response.headers["x-request-id"] == "trace-42"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "trace-42"


# --- over real HTTP ------------------------------------------------------------------------------


def test_served_gateway_answers_new_media_type_with_its_status_codes(stack) -> None:  # noqa: ANN001
    ok = httpx.post(stack.graphql_url, json={"query": "{ customers(first: 2) { totalCount } }"},
                    headers={"Accept": GQL_RESPONSE}, timeout=30)
    invalid = httpx.post(stack.graphql_url, json={"query": "{ customers { nope } }"},
                         headers={"Accept": GQL_RESPONSE}, timeout=30)

    assert ok.status_code == 200 and media(ok) == GQL_RESPONSE
    assert ok.json()["data"]["customers"]["totalCount"] > 0
    assert invalid.status_code == 400 and media(invalid) == GQL_RESPONSE
    assert "data" not in invalid.json()


def test_served_gateway_keeps_legacy_json_at_200_for_invalid_documents(stack) -> None:  # noqa: ANN001
    response = httpx.post(stack.graphql_url, json={"query": "{ customers { nope } }"}, timeout=30)

    assert response.status_code == 200
    assert media(response) == JSON
    assert response.json()["errors"]


def test_served_gateway_refuses_mutation_over_get_and_wrong_content_type(stack) -> None:  # noqa: ANN001
    mutation = 'mutation { mergeCustomers(into: "a", from: "b", decidedBy: "x") { __typename } }'
    over_get = httpx.get(stack.graphql_url, params={"query": mutation}, headers={"Accept": GQL_RESPONSE})
    as_text = httpx.post(stack.graphql_url, content=b"{ ping }", headers={"Content-Type": "text/plain"})
    not_acceptable = httpx.post(stack.graphql_url, json={"query": "{ ping }"}, headers={"Accept": "text/csv"})

    assert (over_get.status_code, over_get.headers["allow"]) == (405, "POST")
    assert as_text.status_code == 415
    assert not_acceptable.status_code == 406
