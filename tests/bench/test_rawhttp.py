"""The load generator's raw HTTP/1.1 client against a real uvicorn server (and a bare asyncio one)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench._load import Reply, run_load
from bench._rawhttp import Endpoint, KeepAliveConnection, PostEncoder, RawHTTPError
from sandbox._server import ThreadedServer


async def echo(request: Request) -> Response:
    raw = await request.body()
    assert request.client is not None
    return JSONResponse({
        "body": orjson.loads(raw), "length": len(raw), "port": request.client.port,
        "host": request.headers.get("host"), "content_type": request.headers.get("content-type"),
        "accept": request.headers.get("accept"), "path": request.url.path, "query": request.url.query,
    })


async def bad_request(request: Request) -> Response:
    await request.body()
    return JSONResponse({"errors": [{"message": "no"}]}, status_code=400)


async def chunked(request: Request) -> Response:
    await request.body()
    items = [{"n": n, "pad": "x" * (n * 97)} for n in range(60)]

    async def pieces() -> AsyncIterator[bytes]:
        yield b'{"data": {"items": ['
        for n, item in enumerate(items):
            yield (b"," if n else b"") + orjson.dumps(item)
        yield b"]}}"

    return StreamingResponse(pieces(), media_type="application/json")


async def closing(request: Request) -> Response:
    await request.body()
    assert request.client is not None
    return JSONResponse({"data": {"port": request.client.port}}, headers={"Connection": "close"})


async def no_content(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


APP = Starlette(routes=[
    Route("/echo", echo, methods=["POST"]),
    Route("/bad", bad_request, methods=["POST"]),
    Route("/chunked", chunked, methods=["POST"]),
    Route("/close", closing, methods=["POST"]),
    Route("/empty", no_content, methods=["POST"]),
])


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(APP) as started:
        yield started


def client(url: str) -> tuple[KeepAliveConnection, PostEncoder]:
    endpoint = Endpoint.from_url(url)
    return KeepAliveConnection(endpoint, timeout=10), PostEncoder(endpoint)


async def test_post_body_arrives_intact_on_one_kept_alive_connection(server: ThreadedServer) -> None:
    conn, encoder = client(f"{server.url}/echo?x=1")
    payloads = [{"query": "{ a }", "variables": {"text": "é€😀 \"quoted\"\n", "n": n, "big": "z" * 100_000}}
                for n in range(5)]
    ports = set()
    for payload in payloads:
        status, raw = await conn.request(encoder.encode(payload))
        echoed = orjson.loads(raw)
        assert status == 200
        assert echoed["body"] == payload
        assert echoed["length"] == len(orjson.dumps(payload))
        assert echoed["host"] == f"127.0.0.1:{server.port}"
        assert echoed["content_type"] == "application/json" and echoed["accept"] == "application/json"
        assert (echoed["path"], echoed["query"]) == ("/echo", "x=1")
        ports.add(echoed["port"])
    conn.close()
    assert len(ports) == 1 and conn.connects == 1


async def test_status_codes_and_empty_bodies_come_through(server: ThreadedServer) -> None:
    conn, encoder = client(f"{server.url}/bad")
    status, raw = await conn.request(encoder.encode({"query": "{ a }"}))
    assert status == 400 and orjson.loads(raw) == {"errors": [{"message": "no"}]}

    conn_204, encoder_204 = client(f"{server.url}/empty")
    assert await conn_204.request(encoder_204.encode({})) == (204, b"")
    assert await conn_204.request(encoder_204.encode({})) == (204, b"")  # the connection stays usable
    conn.close()
    conn_204.close()
    assert conn_204.connects == 1


async def test_chunked_response_is_read_whole(server: ThreadedServer) -> None:
    conn, encoder = client(f"{server.url}/chunked")
    for _ in range(3):  # and the connection stays in step after each chunked body
        status, raw = await conn.request(encoder.encode({"query": "{ a }"}))
        items = orjson.loads(raw)["data"]["items"]
        assert status == 200
        assert [item["n"] for item in items] == list(range(60))
        assert all(item["pad"] == "x" * (item["n"] * 97) for item in items)
    conn.close()
    assert conn.connects == 1


async def test_connection_close_response_makes_the_next_request_reconnect(server: ThreadedServer) -> None:
    conn, encoder = client(f"{server.url}/close")
    ports = []
    for _ in range(4):
        status, raw = await conn.request(encoder.encode({"query": "{ a }"}))
        assert status == 200
        ports.append(orjson.loads(raw)["data"]["port"])
    conn.close()
    assert len(set(ports)) == 4 and conn.connects == 4


async def bare_server(answer: bool, linger: bool) -> tuple[asyncio.Server, list[int]]:
    """A bare HTTP server that serves one request per connection and then closes it without a word.

    `answer=False` closes without responding at all; `linger=True` waits for the next request on
    the connection and drops it unanswered (the race of an idle timeout). Without `linger`, even
    requests get a body delimited by EOF instead of a Content-Length.
    """
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        body = await reader.readexactly(length)
        if answer:
            served.append(len(served))
            framing = b"Content-Length: %d\r\n" % len(body) if linger or len(served) % 2 else b""
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing + b"\r\n" + body)
            await writer.drain()
            if linger:
                await reader.read(1)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), served


@pytest.mark.parametrize("linger", [False, True])
async def test_server_that_closes_silently_is_reconnected_without_errors(linger: bool) -> None:
    """No `Connection: close`, sometimes no length either (body up to EOF), then a silent close."""
    bare, served = await bare_server(answer=True, linger=linger)
    port = bare.sockets[0].getsockname()[1]
    try:
        result = await run_load(None, f"http://127.0.0.1:{port}/graphql", lambda i: {"data": {"i": i}},
                                concurrency=2, max_requests=10, max_seconds=10, timeout=5)
    finally:
        bare.close()
        await bare.wait_closed()
    assert result.count == 10 and len(served) == 10
    assert [r.transport_error for r in result.replies] == [None] * 10
    assert sorted(r.body["data"]["i"] for r in result.replies if r.body) == list(range(10))


async def test_new_connection_closed_without_a_response_is_a_transport_error() -> None:
    bare, _ = await bare_server(answer=False, linger=False)
    port = bare.sockets[0].getsockname()[1]
    try:
        result = await run_load(None, f"http://127.0.0.1:{port}/graphql", lambda i: {"i": i},
                                concurrency=1, max_requests=3, max_seconds=10)
    finally:
        bare.close()
        await bare.wait_closed()
    assert result.count == 3
    assert all(r.status == 0 and r.transport_error and "IncompleteRead" in r.transport_error for r in result.replies)


async def test_run_load_sends_exactly_max_requests_and_parses_bodies(server: ThreadedServer) -> None:
    result = await run_load(None, f"{server.url}/echo", lambda i: {"data": {"i": i}},
                            concurrency=8, max_requests=50, max_seconds=10)
    assert result.count == 50 and result.concurrency == 8
    assert {r.status for r in result.replies} == {200}
    assert sorted(r.body["body"]["data"]["i"] for r in result.replies if r.body) == list(range(50))
    assert len({r.body["port"] for r in result.replies if r.body}) <= 8  # one connection per worker
    assert all(r.transport_error is None and r.seconds > 0 for r in result.replies)


async def test_run_load_reports_non_json_and_400_replies(server: ThreadedServer) -> None:
    result = await run_load(None, f"{server.url}/bad", lambda i: {"query": "{ a }"},
                            concurrency=2, max_requests=3, max_seconds=10)
    assert [(r.status, r.body) for r in result.replies] == [(400, {"errors": [{"message": "no"}]})] * 3
    assert len(result.failed()) == 3
    assert Reply(0.1, 200, raw=b"not json").body is None
    assert Reply(0.1, 200, raw=b"[1]").body is None  # JSON, but not a GraphQL object
    assert Reply(0.1, 200, {"data": {}}).body == {"data": {}}


async def test_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        conn, encoder = client(f"http://127.0.0.1:{port}/graphql")
        with pytest.raises(RawHTTPError, match="Connect|refused|Errno"):
            await conn.request(encoder.encode({}))
        result = await run_load(None, f"http://127.0.0.1:{port}/graphql", lambda i: {},
                                concurrency=2, max_requests=3, max_seconds=10)
    assert result.count == 3
    assert all(r.status == 0 and r.transport_error and r.body is None for r in result.replies)


def test_endpoint_and_encoder() -> None:
    endpoint = Endpoint.from_url("http://localhost:8080/graphql?op=1")
    assert endpoint == Endpoint("localhost", 8080, "/graphql?op=1", "localhost:8080")
    assert Endpoint.from_url("http://example.test").path == "/"
    with pytest.raises(ValueError):
        Endpoint.from_url("https://example.test/graphql")
    encoder = PostEncoder(endpoint)
    first = encoder.encode({"query": "{ a }"})
    assert first == (b"POST /graphql?op=1 HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n"
                     b"Accept: application/json\r\nContent-Length: 17\r\n\r\n{\"query\":\"{ a }\"}")
    assert encoder.encode({"query": "{ a }"}) is first  # built once per distinct body
