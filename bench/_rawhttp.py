"""A minimal keep-alive HTTP/1.1 client for load generation: JSON POSTs over asyncio streams.

Why not httpx: the load generator runs in the bench process, on the same (small) machine as
the gateway it measures. httpx spends milliseconds of CPU per request (request and response
models, header objects, the connection pool, anyio), so at high rates the generator takes the
CPU the gateway needs and a requests/s figure measures the client, not the server. This client
does the least a closed-loop generator needs: one persistent TCP connection per worker, request
bytes built once per distinct body, and a response read as status, three headers and the body.
That is a few tens of microseconds per request.

What it does not do, because the bench talks plain HTTP/1.1 to 127.0.0.1: TLS, proxies,
redirects, cookies, compression, pipelining, `Expect: 100-continue`. Use httpx for anything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

#: Statuses that never carry a body (RFC 9110 6.4.1), whatever their headers say.
_NO_BODY = frozenset({204, 304})


class RawHTTPError(Exception):
    """The request got no complete response: connect, write or read failed, timed out, or was malformed."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: the TCP address, and the request target and Host header of the URL."""

    host: str
    port: int
    path: str
    host_header: str

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """`http://host[:port]/path[?query]` (no https: the bench never needs TLS)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port]/path URLs are supported, not {url!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname, parts.port or 80, path, parts.netloc.rpartition("@")[2])


class PostEncoder:
    """Builds the bytes of `POST <path>` requests with a JSON body, once per distinct body.

    The cache is keyed by the encoded body (not by the mapping's identity), so a payload that is
    mutated between calls is never sent stale; encoding a query with orjson costs microseconds.
    """

    def __init__(self, endpoint: Endpoint, max_cached: int = 4096) -> None:
        self._prefix = (
            f"POST {endpoint.path} HTTP/1.1\r\n"
            f"Host: {endpoint.host_header}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            "Content-Length: "
        ).encode("ascii")
        self._cache: dict[bytes, bytes] = {}
        self._max_cached = max_cached

    def encode(self, payload: Mapping[str, Any]) -> bytes:
        """The complete request (head and body) for this JSON payload."""
        body = orjson.dumps(payload if isinstance(payload, dict) else dict(payload))
        request = self._cache.get(body)
        if request is None:
            request = b"%s%d\r\n\r\n%s" % (self._prefix, len(body), body)
            if len(self._cache) < self._max_cached:
                self._cache[body] = request
        return request


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, Content-Length or None, chunked, close after this response) of a response head.

    Only the headers that frame the body or end the connection are read; the rest are skipped.
    """
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(rest) < 3 or not rest[:3].isdigit():
        raise RawHTTPError(f"not an HTTP/1.x status line: {lines[0][:200]!r}")
    status = int(rest[:3])
    keep_alive = version == b"HTTP/1.1"  # HTTP/1.0 closes unless it says keep-alive
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise RawHTTPError(f"malformed header line: {line[:200]!r}")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                raise RawHTTPError(f"bad Content-Length: {value[:50]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            tokens = value.lower()
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
    return status, None if chunked else length, chunked, not keep_alive


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """The body of a `Transfer-Encoding: chunked` response (chunk extensions and trailers skipped)."""
    parts: list[memoryview] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size_field = line.split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise RawHTTPError(f"bad chunk size line: {line[:100]!r}") from None
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise RawHTTPError("chunk data not followed by CRLF")
        parts.append(memoryview(chunk)[:-2])
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, then the final empty line
        pass
    return b"".join(parts)


class KeepAliveConnection:
    """One persistent TCP connection to an endpoint, one request at a time (a closed-loop worker's).

    It connects on the first request and again whenever the server has closed it: after a
    `Connection: close` (or HTTP/1.0) response, a body delimited by EOF, or an idle close the
    server did not announce. In that last case, a request that found the reused connection
    closed before any byte of a response arrived is sent again on a new connection, once; it
    is not an error because the server never processed it. Every other failure is raised as
    `RawHTTPError` and the connection is dropped, so the next request starts clean.
    """

    def __init__(self, endpoint: Endpoint, *, timeout: float | None = 60.0, connect_timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        #: TCP connections opened so far (tests and curious callers can see reconnects).
        self.connects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._served = 0  # responses read on the current connection

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one complete request (see `PostEncoder`); its (status, body), the body unparsed."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(data)
        except RawHTTPError:
            self.close()
            raise
        except TimeoutError as exc:  # asyncio.TimeoutError is TimeoutError since Python 3.11
            self.close()
            raise RawHTTPError(f"TimeoutError: no complete response within {self.timeout}s") from exc
        except (OSError, EOFError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise RawHTTPError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:  # cancelled mid-exchange: the connection is in an unknown state
            self.close()
            raise

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._served = 0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.close()
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        self._reader, self._writer = reader, writer
        self.connects += 1
        return reader, writer

    async def _send(self, data: bytes) -> tuple[asyncio.StreamReader, bytes]:
        """Write the request and read the response head, reconnecting once if a reused connection was closed."""
        reader, writer = self._reader, self._writer
        if reader is None or writer is None or writer.is_closing() or reader.at_eof():
            reader, writer = await self._connect()
        reused = self._served > 0
        try:
            writer.write(data)
            await writer.drain()
            return reader, await reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
        # The server closed the idle connection before it read this request: send it on a new one.
        reader, writer = await self._connect()
        writer.write(data)
        await writer.drain()
        return reader, await reader.readuntil(b"\r\n\r\n")

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        reader, head = await self._send(data)
        status, length, chunked, close = parse_head(head)
        while 100 <= status < 200 and status != 101:  # interim responses (100 Continue, 103 Early Hints)
            status, length, chunked, close = parse_head(await reader.readuntil(b"\r\n\r\n"))
        if status in _NO_BODY or status == 101:
            body = b""
        elif chunked:
            body = await read_chunked(reader)
        elif length is not None:
            body = await reader.readexactly(length) if length else b""
        else:  # neither length nor chunked: the body runs to the end of the connection
            body = await reader.read()
            close = True
        self._served += 1
        if close:
            self.close()
        return status, body
