"""A webhook receiver for simulator tests: records every POST it gets and answers as scripted.

    receiver = Receiver()
    url = serve(receiver.app).url
    ... make a change in a simulator ...
    [hit] = receiver.wait_for(1)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def is_validation(self) -> bool:
        return "validationToken" in self.query


class Receiver:
    """Any path accepts POSTs. Graph validation requests are echoed (or not, `echo_validation=False`).

    Other POSTs are answered with the next of `statuses` (after an optional pause from `delays_s`),
    then `default_status`.
    """

    def __init__(self, *, echo_validation: bool = True, statuses: list[int] | None = None,
                 delays_s: list[float] | None = None, default_status: int = 200) -> None:
        self.echo_validation = echo_validation
        self.default_status = default_status
        self._statuses = deque(statuses or [])
        self._delays = deque(delays_s or [])
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        hit = Received(request.url.path, dict(request.query_params), dict(request.headers), await request.body())
        with self._lock:
            self._received.append(hit)
            if hit.is_validation:
                status, delay = 200, 0.0
            else:
                status = self._statuses.popleft() if self._statuses else self.default_status
                delay = self._delays.popleft() if self._delays else 0.0
        if hit.is_validation:
            if self.echo_validation:
                return PlainTextResponse(hit.query["validationToken"])
            return Response(b'{"ok": true}', media_type="application/json")
        if delay:
            await asyncio.sleep(delay)
        return Response(status_code=status)

    def received(self, predicate: Callable[[Received], bool] | None = None) -> list[Received]:
        with self._lock:
            return [hit for hit in self._received if predicate is None or predicate(hit)]

    def notifications(self, path: str | None = None) -> list[Received]:
        """Everything but Graph's validation requests (optionally only to one path)."""
        return self.received(lambda hit: not hit.is_validation and (path is None or hit.path == path))

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        """The first `count` notifications (to `path`), polling until they are there."""
        deadline = time.monotonic() + timeout
        while True:
            hits = self.notifications(path)
            if len(hits) >= count:
                return hits[:count]
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} deliveries, got {len(hits)}")
            time.sleep(0.01)
