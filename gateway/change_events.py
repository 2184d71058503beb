"""Change events in the gateway process: the webhook routes, the queue behind them, polling, registrations.

Why a queue: the systems want a fast answer (Graph: 2xx within 3 s, or it retries and then
throttles; Teamwork: 200 within 5 s; Intuit: quickly), and handling an event reads the
system and runs a match. So a verified delivery is put on an in-process asyncio queue and
answered at once; one worker task handles the queue in order. The queue is in memory:
what it holds is lost if the process dies, and polling finds those changes again on the
next round (feeds resume from checkpoints in the xref database). With polling off, a
crash can lose the events of the last few seconds until reconciliation reports them.

Also here, as background tasks of the app's lifespan:
- a poller per system (`C360_SYNC__POLL_INTERVAL_S`; first pull at startup, which sets the
  checkpoint on a fresh database, or catches up since the stored one after a restart);
- with `C360_WEBHOOKS__ENABLED`: the Graph subscription (created, stored, renewed before it
  expires, recreated when Graph no longer has it), the Teamwork webhook registrations
  (reused when already there), and in sandbox mode the QuickBooks simulator's webhook
  endpoint (the real one is set in Intuit's developer portal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from connectors import (
    ChangeEvent,
    Connector,
    ConnectorError,
    RecordNotFound,
    SourcesSettings,
    SystemName,
    WebhookMalformed,
    WebhookReceiver,
    WebhookRejected,
)
from gateway.config import Settings
from resolvers import Services
from resolvers.change_events import ChangeCounts, ChangeFeeds, ChangeProcessor, OwnWriteLog
from xref import SyncState

log = logging.getLogger(__name__)

#: Largest webhook body read (Graph batches notifications; real ones are a few KB).
MAX_BODY_BYTES = 1_000_000
#: Event deliveries handled together when several are waiting.
MAX_BATCH_ITEMS = 50
#: Checkpoint name under which the Graph subscription is kept.
SUBSCRIPTION_CHECKPOINT = "sharepoint:subscription"
#: How often expired dedup keys and own-write versions are deleted.
PURGE_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class _Pull:
    system: SystemName


@dataclass(frozen=True)
class _Events:
    events: tuple[ChangeEvent, ...]


class ChangeInbox:
    """The in-process queue between the webhook routes and the worker (see the module docstring)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._queue: asyncio.Queue[_Pull | _Events] = asyncio.Queue(maxsize)
        self._pulls_waiting: set[SystemName] = set()
        self.handled = ChangeCounts()
        #: Set whenever the worker has nothing left to do (tests wait on it).
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def put_events(self, events: Sequence[ChangeEvent]) -> bool:
        """False when the queue is full (the route answers 503 so the system retries later)."""
        if not events:
            return True
        return self._put(_Events(tuple(events)))

    def put_pull(self, system: SystemName) -> bool:
        """Ask for a pull of `system`'s feed; one already waiting covers this one too."""
        if system in self._pulls_waiting:
            return True
        if self._put(_Pull(system)):
            self._pulls_waiting.add(system)
            return True
        return False

    def _put(self, item: _Pull | _Events) -> bool:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        self.idle.clear()
        return True

    async def run(self, processor: ChangeProcessor, feeds: ChangeFeeds | None, stop: asyncio.Event) -> None:
        """Handle queued items until `stop`; a failure is logged and the worker goes on."""
        while not stop.is_set():
            if self._queue.empty():
                self.idle.set()
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter not in done:
                getter.cancel()
                return
            item = getter.result()
            batch: list[ChangeEvent] = []
            pulls: list[SystemName] = []
            self._sort(item, batch, pulls)
            while len(batch) < MAX_BATCH_ITEMS * 10 and not self._queue.empty():
                self._sort(self._queue.get_nowait(), batch, pulls)
            await self._handle(processor, feeds, batch, pulls)

    def _sort(self, item: _Pull | _Events, batch: list[ChangeEvent], pulls: list[SystemName]) -> None:
        if isinstance(item, _Pull):
            self._pulls_waiting.discard(item.system)
            if item.system not in pulls:
                pulls.append(item.system)
        else:
            batch.extend(item.events)

    async def _handle(self, processor: ChangeProcessor, feeds: ChangeFeeds | None,
                      batch: list[ChangeEvent], pulls: list[SystemName]) -> None:
        if batch:
            try:
                self.handled.add(await processor.process(batch))
            except Exception:  # noqa: BLE001 - a bug or the database: the next poll sees these changes again
                log.exception("handling change events failed", extra={"count": len(batch)})
        for system in pulls:
            if feeds is None or system not in feeds.systems():
                continue
            try:
                self.handled.add(await feeds.pull(system))
            except ConnectorError as exc:
                log.warning("change feed pull failed", extra={"system": system.value, "error": type(exc).__name__})
            except Exception:  # noqa: BLE001
                log.exception("change feed pull failed", extra={"system": system.value})


@dataclass
class ChangeServices:
    """What the webhook route needs from the lifespan, and the pieces tests look at."""

    receivers: dict[SystemName, WebhookReceiver]
    inbox: ChangeInbox
    processor: ChangeProcessor
    feeds: ChangeFeeds
    state: SyncState
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: Registrations made at startup, by what: "sharepoint" → subscription id, "teamwork" → ids.
    registrations: dict[str, Any] = field(default_factory=dict)


async def webhook_endpoint(request: Request) -> Response:
    """`POST /webhooks/{system}`: verify, queue, answer (the Graph handshake is echoed right here)."""
    changes: ChangeServices | None = getattr(request.state, "changes", None)
    try:
        system = SystemName(request.path_params["system"])
    except ValueError:
        return JSONResponse({"error": "unknown system"}, status_code=404)
    receiver = changes.receivers.get(system) if changes is not None else None
    if changes is None or receiver is None:
        return JSONResponse({"error": f"webhooks from {system.value} are not served here"}, status_code=404)
    token = receiver.handshake(request.query_params)
    if token is not None:
        return PlainTextResponse(token)
    body = await _bounded_body(request, MAX_BODY_BYTES)
    if body is None:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        delivery = receiver.receive(request.headers, body)
    except WebhookMalformed as exc:
        log.warning("webhook refused", extra={"system": system.value, "reason": exc.reason})
        return JSONResponse({"error": "malformed delivery"}, status_code=400)
    except WebhookRejected as exc:
        log.warning("webhook refused", extra={"system": system.value, "reason": exc.reason})
        return JSONResponse({"error": "verification failed"}, status_code=401)
    queued = changes.inbox.put_events(delivery.events)
    if queued and delivery.pull:
        queued = changes.inbox.put_pull(system)
    if not queued:
        log.warning("change queue full; delivery refused for a retry", extra={"system": system.value})
        return JSONResponse({"error": "busy, retry later"}, status_code=503)
    log.debug("webhook queued", extra={"system": system.value, "events": len(delivery.events),
                                       "pull": delivery.pull, "ignored": delivery.ignored})
    return Response(status_code=receiver.accepted_status)


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The raw body (signatures are over these exact bytes), or None past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_receivers(connectors: Mapping[SystemName, Connector]) -> dict[SystemName, WebhookReceiver]:
    """The receiver of each system whose connector offers one (reached through the cache/guard wrappers)."""
    receivers: dict[SystemName, WebhookReceiver] = {}
    for system, connector in connectors.items():
        make: Callable[[], WebhookReceiver] | None = getattr(connector, "webhooks", None)
        if make is not None:
            receivers[system] = make()
    return receivers


# --- background tasks ------------------------------------------------------------------------------


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`; True when `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


async def _poll(feeds: ChangeFeeds, system: SystemName, interval_s: float, stop: asyncio.Event,
                inbox: ChangeInbox) -> None:
    """Pull `system` now and then every `interval_s` (0: only now)."""
    while not stop.is_set():
        try:
            inbox.handled.add(await feeds.pull(system))
        except ConnectorError as exc:
            log.warning("change feed poll failed", extra={"system": system.value, "error": type(exc).__name__})
        except Exception:  # noqa: BLE001 - keep polling; the checkpoint did not move
            log.exception("change feed poll failed", extra={"system": system.value})
        if interval_s <= 0 or await _sleep_or_stop(stop, interval_s):
            return


async def _purge(state: SyncState, stop: asyncio.Event) -> None:
    while not await _sleep_or_stop(stop, PURGE_INTERVAL_S):
        try:
            gone = await state.purge_expired()
            log.info("expired change keys purged", extra={"count": gone})
        except Exception:  # noqa: BLE001
            log.exception("purging expired change keys failed")


async def _retrying(what: str, attempt: Callable[[], Awaitable[bool]], retry_s: float, stop: asyncio.Event) -> None:
    """Run `attempt` until it returns True (done) or `stop`; failures are logged and retried."""
    while not stop.is_set():
        try:
            if await attempt():
                return
        except Exception as exc:  # noqa: BLE001 - a registration must not take the gateway down
            log.warning("%s failed; retrying in %.0fs", what, retry_s, extra={"error": f"{type(exc).__name__}: {exc}"})
        if await _sleep_or_stop(stop, retry_s):
            return


async def keep_graph_subscription(connector: Any, state: SyncState, url: str, settings: Settings,
                                  stop: asyncio.Event, registrations: dict[str, Any]) -> None:
    """Hold one Graph subscription for `url`: renew it at startup (proving it still exists) and then
    `renew_before_s` ahead of its expiry; create it when there is none or Graph lost it."""
    hooks = settings.webhooks
    lifetime = timedelta(minutes=hooks.subscription_minutes)
    first = True
    while not stop.is_set():
        checkpoint = await state.checkpoint(SUBSCRIPTION_CHECKPOINT)
        now = datetime.now(UTC)
        current = (
            checkpoint if checkpoint is not None and checkpoint.cursor and checkpoint.expires_at is not None
            and checkpoint.details.get("url") == url and checkpoint.expires_at > now else None
        )
        if current is not None and not first:
            assert current.expires_at is not None
            due = (current.expires_at - timedelta(seconds=hooks.renew_before_s) - now).total_seconds()
            if due > 0:
                if await _sleep_or_stop(stop, due):
                    return
                continue
        try:
            if current is not None:
                assert current.cursor is not None
                try:
                    subscription = await connector.renew_subscription(current.cursor, now + lifetime)
                    action = "renewed"
                except RecordNotFound:
                    subscription = await connector.subscribe(url, now + lifetime)
                    action = "recreated"
            else:
                if checkpoint is not None and checkpoint.cursor and checkpoint.details.get("url") != url:
                    with contextlib.suppress(ConnectorError):
                        await connector.unsubscribe(checkpoint.cursor)  # one for an old URL
                subscription = await connector.subscribe(url, now + lifetime)
                action = "created"
        except ConnectorError as exc:
            log.warning("graph subscription failed; retrying in %.0fs", hooks.retry_s,
                        extra={"error": f"{type(exc).__name__}: {exc.message}"})
            if await _sleep_or_stop(stop, hooks.retry_s):
                return
            continue
        await state.save_checkpoint(SUBSCRIPTION_CHECKPOINT, SystemName.SHAREPOINT.value, subscription.id,
                                    expires_at=subscription.expires_at, details={"url": url})
        registrations["sharepoint"] = subscription.id
        log.info("graph subscription %s", action, extra={"subscription_id": subscription.id,
                                                         "expires_at": subscription.expires_at.isoformat()})
        first = False


async def configure_quickbooks_simulator(base_url: str, url: str, settings: Settings) -> bool:
    """Sandbox only: the simulator's stand-in for Intuit's developer portal (`PUT /_admin/webhooks`)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        resp = await client.put("/_admin/webhooks", json={
            "url": url, "format": settings.webhooks.quickbooks_format, "delay_ms": 500, "entities": ["Customer"],
        })
        resp.raise_for_status()
    log.info("quickbooks simulator delivers webhooks", extra={"format": settings.webhooks.quickbooks_format})
    return True


def _wanted_tasks(settings: Settings, services: ChangeServices, connectors: Mapping[SystemName, Connector],
                  sources: SourcesSettings, stop: asyncio.Event, *, use_sandbox: bool) -> list[Any]:
    """The coroutines to run for this configuration (see the module docstring)."""
    wanted: list[Any] = [services.inbox.run(services.processor, services.feeds, stop), _purge(services.state, stop)]
    interval = settings.sync.poll_interval_s
    if interval > 0 or settings.webhooks.enabled:
        wanted += [_poll(services.feeds, s, interval, stop, services.inbox) for s in services.feeds.systems()]
    if not settings.webhooks.enabled:
        return wanted
    base = settings.webhooks.base_url(settings.host, settings.port)
    sharepoint = connectors.get(SystemName.SHAREPOINT)
    if sharepoint is not None and hasattr(sharepoint, "subscribe"):
        wanted.append(keep_graph_subscription(sharepoint, services.state, f"{base}/webhooks/sharepoint", settings,
                                              stop, services.registrations))
    teamwork = connectors.get(SystemName.TEAMWORK)
    token = sources.teamwork.webhook_token.get_secret_value()
    if teamwork is not None and hasattr(teamwork, "register_webhooks") and token:
        register: Any = teamwork.register_webhooks  # type: ignore[attr-defined]

        async def register_teamwork() -> bool:
            services.registrations["teamwork"] = await register(f"{base}/webhooks/teamwork", token)
            log.info("teamwork webhooks registered", extra={"count": len(services.registrations["teamwork"])})
            return True

        wanted.append(_retrying("teamwork webhook registration", register_teamwork, settings.webhooks.retry_s, stop))
    elif teamwork is not None:
        log.warning("teamwork webhooks not registered: no webhook token configured")
    if use_sandbox and SystemName.QUICKBOOKS in connectors:
        qbo_url = sources.quickbooks.base_url

        async def configure() -> bool:
            return await configure_quickbooks_simulator(qbo_url, f"{base}/webhooks/quickbooks", settings)

        wanted.append(_retrying("quickbooks simulator webhook setup", configure, settings.webhooks.retry_s, stop))
    return wanted


@contextlib.asynccontextmanager
async def running_change_events(
    settings: Settings, services: Services, sources: SourcesSettings, *, use_sandbox: bool = False
) -> AsyncIterator[ChangeServices | None]:
    """Change handling for the life of the app; None when the index has no database to keep state in."""
    sessions = getattr(services.xref, "sessions", None)
    if sessions is None:
        yield None
        return
    connectors = services.connectors
    state = SyncState(sessions, dedup_ttl_s=settings.sync.dedup_ttl_s, own_write_ttl_s=settings.sync.own_write_ttl_s)
    own_writes = services.writes.write_through.own_writes if services.writes is not None else None
    processor = ChangeProcessor(connectors, services.xref, state, own_writes,
                                region=services.phone_region, engine_settings=services.engine_settings)
    feeds = ChangeFeeds(connectors, processor, state, margin_s=settings.sync.safety_margin_s)
    changes = ChangeServices(
        receivers=webhook_receivers(connectors), inbox=ChangeInbox(settings.webhooks.queue_size),
        processor=processor, feeds=feeds, state=state,
    )
    own_log = OwnWriteLog(state)
    if own_writes is not None:
        own_log.attach(own_writes)
    stop = asyncio.Event()
    for coroutine in _wanted_tasks(settings, changes, connectors, sources, stop, use_sandbox=use_sandbox):
        changes.tasks.append(asyncio.create_task(coroutine, name=f"c360-changes-{coroutine.__name__}"))
    try:
        yield changes
    finally:
        stop.set()
        if own_writes is not None:
            own_log.detach(own_writes)
        _, pending = await asyncio.wait(changes.tasks, timeout=10) if changes.tasks else (set(), set())
        for task in pending:
            task.cancel()
        await own_log.aclose()
