"""Run ASGI apps under uvicorn on 127.0.0.1: in the foreground (CLI) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only turns Nagle off (TCP_NODELAY) on sockets whose proto says TCP;
    # with proto 0 every response stalls ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class ServedApp:
    name: str
    app: ASGIApp
    host: str = "127.0.0.1"
    port: int = 0


def _server(app: ASGIApp, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="auto", ws="none")
    return uvicorn.Server(config)


async def serve_all(apps: Sequence[ServedApp], log_level: str = "warning") -> None:
    """Serve several apps in one event loop until interrupted."""
    servers = []
    for served in apps:
        sock = bind_socket(served.host, served.port)
        servers.append(_server(served.app, log_level).serve(sockets=[sock]))
    await asyncio.gather(*servers)


class ThreadedServer:
    """One app on a free port in a background thread with its own event loop.

    Tests and benchmarks use it so the server's loop is independent of the
    test's loop, exactly as a separate process would be.
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = _server(app)
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
