"""The simulators' outgoing webhook queue: per-receiver order, retries, independence of receivers, batching."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from sandbox._server import ThreadedServer
from sandbox._webhooks import Batcher, Delivery, RetryPolicy, WebhookSender
from tests.support.receiver import Receiver


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _delivery(url: str, n: int) -> Delivery:
    return Delivery(url=url, body=str(n).encode(), headers={"Content-Type": "text/plain"}, event=f"event {n}")


async def test_deliveries_to_one_receiver_keep_their_order(serve: Callable[..., ThreadedServer]) -> None:
    receiver = Receiver(delays_s=[0.05, 0.0, 0.02])
    url = f"{serve(receiver.app).url}/hook"
    sender = WebhookSender("test")
    for n in range(20):
        sender.send(_delivery(url, n))
    await _until(lambda: sender.counts["delivered"] == 20)
    assert [hit.body for hit in receiver.notifications()] == [str(n).encode() for n in range(20)]
    await sender.aclose()


async def test_a_dead_receiver_does_not_hold_up_another(serve: Callable[..., ThreadedServer]) -> None:
    receiver = Receiver()
    good = f"{serve(receiver.app).url}/hook"
    dead = f"http://127.0.0.1:{_unused_port()}/hook"
    outcomes: list[tuple[str, bool]] = []
    sender = WebhookSender("test", RetryPolicy(attempts=3, backoff_s=0.3))
    sender.send(Delivery(dead, b"x", {}, "to the dead", lambda ok: outcomes.append(("dead", ok))))
    sender.send(Delivery(good, b"y", {}, "to the living", lambda ok: outcomes.append(("good", ok))))
    await _until(lambda: len(outcomes) == 2)
    assert outcomes == [("good", True), ("dead", False)]
    assert (sender.counts["retried"], sender.counts["dropped"]) == (2, 1)
    await sender.aclose()


async def test_a_failing_receiver_gets_the_delivery_again(serve: Callable[..., ThreadedServer]) -> None:
    receiver = Receiver(statuses=[500, 502])
    url = f"{serve(receiver.app).url}/hook"
    sender = WebhookSender("test", RetryPolicy(backoff_s=0.01))
    sender.send(_delivery(url, 1))
    await _until(lambda: sender.counts["delivered"] == 1)
    assert [hit.body for hit in receiver.notifications()] == [b"1", b"1", b"1"]
    assert sender.snapshot()["recent"][-1]["attempts"] == 3  # type: ignore[index]
    await sender.aclose()


async def test_sending_from_another_thread_uses_the_simulators_loop(serve: Callable[..., ThreadedServer]) -> None:
    receiver = Receiver()
    url = f"{serve(receiver.app).url}/hook"
    sender = WebhookSender("test")
    sender.send(_delivery(url, 1))  # binds the sender to this loop
    await asyncio.to_thread(sender.send, _delivery(url, 2))
    await _until(lambda: sender.counts["delivered"] == 2)
    await sender.aclose()


async def test_close_gives_up_what_is_still_queued(serve: Callable[..., ThreadedServer]) -> None:
    receiver = Receiver(delays_s=[1.0])
    url = f"{serve(receiver.app).url}/hook"
    sender = WebhookSender("test", RetryPolicy(timeout_s=10))
    for n in range(3):
        sender.send(_delivery(url, n))
    await _until(lambda: len(receiver.notifications()) == 1)
    await sender.aclose()
    assert sender.pending() == 0 and sender.counts["delivered"] == 0


async def test_the_batcher_hands_over_what_came_within_its_delay() -> None:
    batches: list[list[int]] = []
    batcher: Batcher[int] = Batcher(batches.append)
    for n in range(3):
        batcher.add(n, 0.05)
    await _until(lambda: len(batches) == 1)
    batcher.add(3, 0.0)
    await _until(lambda: len(batches) == 2)
    assert batches == [[0, 1, 2], [3]]
