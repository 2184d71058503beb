"""Outgoing webhooks of the simulators: queued per receiver, sent from the simulator's own event loop, retried.

A change made through a simulator's API hands a `Delivery` to the simulator's
`WebhookSender` and returns at once: the POST happens later in a task of the same
event loop (never inside the request that made the change, never blocking the loop).
Deliveries to one receiver URL go out one at a time in the order the changes were
made; a receiver that fails gets the same delivery again after a growing pause, a
few times, and then the delivery is dropped and logged, as the real services do
(on a much shorter schedule, so tests and demos see it happen).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("sandbox.webhooks")

T = TypeVar("T")

#: Deliveries remembered for `GET /_admin/deliveries` (the newest last).
_HISTORY = 200


class RetryPolicy(BaseModel):
    """How hard a simulator tries to deliver one webhook (runtime-settable under `/_admin/deliveries`)."""

    attempts: int = Field(4, ge=1, le=20, description="Tries in all, the first one included.")
    backoff_s: float = Field(1.0, ge=0, description="Pause before the second try; doubled before each later one.")
    max_backoff_s: float = Field(30.0, ge=0)
    timeout_s: float = Field(3.0, gt=0, description="An answer slower than this counts as a failure.")

    def pause(self, failed_attempts: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempts - 1))


@dataclass(frozen=True)
class Delivery:
    """One POST to make: the body is final (already signed over), so retries send the same bytes."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    #: What the delivery is about, for logs and the delivery history (`COMPANY.UPDATED 42`).
    event: str
    #: Told True once delivered, False once dropped (Teamwork deactivates a hook after repeated drops).
    on_outcome: Callable[[bool], None] | None = None


@dataclass
class _Outcome:
    url: str
    event: str
    attempts: int
    status: int | None
    delivered: bool
    at: float = field(default_factory=time.time)

    def json(self) -> dict[str, object]:
        return {"url": self.url, "event": self.event, "attempts": self.attempts, "status": self.status,
                "outcome": "delivered" if self.delivered else "dropped", "at": self.at}


class WebhookSender:
    """The outgoing webhook queue of one simulator.

    Bound lazily to the event loop the simulator runs in (the loop of the request that made
    the first change); everything it does happens in tasks of that loop.
    """

    def __init__(
        self, system: str, policy: RetryPolicy | None = None, *, accepts: Callable[[int], bool] | None = None
    ) -> None:
        self.system = system
        self.policy = policy or RetryPolicy()
        #: Which answers count as delivered (any 2xx unless the system is stricter).
        self.accepts = accepts or (lambda status: 200 <= status < 300)
        self.counts: Counter[str] = Counter()
        self.history: deque[_Outcome] = deque(maxlen=_HISTORY)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._queues: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    # --- queueing --------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> None:
        """Queue a delivery and return at once; safe to call from a request handler."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            if self._loop is not None and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._enqueue, delivery)
                return
            # Changes reach a simulator through its HTTP API, inside its loop; anything else is a bug.
            log.warning("webhook not sent: no event loop", extra={"system": self.system, "event": delivery.event})
            self.counts["dropped"] += 1
            return
        self._bind(loop)
        self._enqueue(delivery)

    def pending(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def client(self) -> httpx.AsyncClient:
        """The HTTP client of the running loop (also used for Graph's validation handshake)."""
        self._bind(asyncio.get_running_loop())
        if self._client is None:
            # trust_env=False: a proxy from the environment must never sit between 127.0.0.1 and itself.
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is self._loop:
            return
        if self._loop is not None and self.pending():
            log.warning("webhooks lost: the simulator moved to another event loop",
                        extra={"system": self.system, "count": self.pending()})
        # The old loop's tasks and connections died with it; start clean on the new one.
        self._loop = loop
        self._client = None
        self._queues = {}
        self._workers = {}

    def _enqueue(self, delivery: Delivery) -> None:
        assert self._loop is not None
        self._queues.setdefault(delivery.url, deque()).append(delivery)
        self.counts["queued"] += 1
        if delivery.url not in self._workers:
            queue = self._queues[delivery.url]
            self._workers[delivery.url] = self._loop.create_task(self._drain(delivery.url, queue))

    # --- sending ---------------------------------------------------------------------------

    async def _drain(self, url: str, queue: deque[Delivery]) -> None:
        """Send the receiver's deliveries one after another, in the order they were queued."""
        try:
            while queue:
                await self._deliver(queue[0])
                queue.popleft()
        finally:
            if self._workers.get(url) is asyncio.current_task():
                del self._workers[url]

    async def _deliver(self, delivery: Delivery) -> None:
        attempt = 0
        status: int | None = None
        while True:
            attempt += 1
            status = await self._post(delivery)
            if status is not None and self.accepts(status):
                self._finish(delivery, attempt, status, delivered=True)
                return
            if attempt >= self.policy.attempts:
                break
            self.counts["retried"] += 1
            await asyncio.sleep(self.policy.pause(attempt))
        log.warning(
            "webhook dropped",
            extra={"system": self.system, "url": delivery.url, "event": delivery.event,
                   "attempts": attempt, "status": status},
        )
        self._finish(delivery, attempt, status, delivered=False)

    async def _post(self, delivery: Delivery) -> int | None:
        try:
            response = await self.client().post(
                delivery.url, content=delivery.body, headers=dict(delivery.headers), timeout=self.policy.timeout_s
            )
        except Exception as exc:  # refused, timed out, a URL httpx cannot use: all are failed attempts
            log.info("webhook attempt failed",
                     extra={"system": self.system, "url": delivery.url, "error": type(exc).__name__})
            return None
        return response.status_code

    def _finish(self, delivery: Delivery, attempts: int, status: int | None, *, delivered: bool) -> None:
        self.counts["delivered" if delivered else "dropped"] += 1
        self.history.append(_Outcome(delivery.url, delivery.event, attempts, status, delivered))
        if delivery.on_outcome is not None:
            try:
                delivery.on_outcome(delivered)
            except Exception:  # a bookkeeping hook must never kill the queue
                log.exception("webhook outcome hook failed", extra={"system": self.system})

    async def aclose(self) -> None:
        """Stop sending (undelivered webhooks are given up, as when a service shuts down)."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def snapshot(self) -> dict[str, object]:
        return {"policy": self.policy.model_dump(), "pending": self.pending(), **{
            key: self.counts[key] for key in ("queued", "delivered", "retried", "dropped")
        }, "recent": [outcome.json() for outcome in self.history]}


class Batcher(Generic[T]):
    """Collects items for a while, then hands them over in one go (QuickBooks aggregates its events).

    The first item starts the clock; everything added before it runs out goes into the
    same batch. Runs on the loop of the request that added the first item.
    """

    def __init__(self, flush: Callable[[list[T]], None]) -> None:
        self._flush = flush
        self._items: list[T] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def add(self, item: T, delay_s: float) -> None:
        self._items.append(item)
        if self._timer is not None and self._timer_loop is not None and not self._timer_loop.is_closed():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._fire()
            return
        self._timer_loop = loop
        self._timer = loop.call_later(max(0.0, delay_s), self._fire)

    def _fire(self) -> None:
        items, self._items = self._items, []
        self._timer = None
        self._timer_loop = None
        if items:
            self._flush(items)


# --- signatures ------------------------------------------------------------------------------


def hmac_sha256(key: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def hex_signature(key: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 (Teamwork's `X-Projects-Signature`)."""
    return hmac_sha256(key, body).hex()


def base64_signature(key: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 (Intuit's `intuit-signature`)."""
    return base64.b64encode(hmac_sha256(key, body)).decode()


# --- admin -----------------------------------------------------------------------------------


def delivery_admin_routes(sender: WebhookSender, prefix: str) -> list[Route]:
    """`{prefix}/deliveries`: GET counts, policy and recent outcomes; PATCH merges policy; DELETE resets counts."""

    async def deliveries(request: Request) -> Response:
        if request.method == "PATCH":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                sender.policy = RetryPolicy.model_validate({**sender.policy.model_dump(), **body})
            except (ValueError, ValidationError) as exc:
                return JSONResponse({"error": "invalid retry policy", "detail": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            sender.counts.clear()
            sender.history.clear()
        return JSONResponse(sender.snapshot())

    return [Route(f"{prefix}/deliveries", deliveries, methods=["GET", "PATCH", "DELETE"])]
