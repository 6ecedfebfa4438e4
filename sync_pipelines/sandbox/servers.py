"""Serve ASGI apps on loopback from a background thread (tests, the demo, the standalone sandbox)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from .marketo_app import create_marketo_app
from .marketo_state import MarketoSandbox, MarketoSandboxConfig

STARTUP_TIMEOUT_SECONDS = 30.0


class RunningServer:
    """A uvicorn server running in a daemon thread; `url` has the real port. Stop it when done."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str):
        self._server = server
        self._thread = thread
        self.url = url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to shut down and wait for the thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(app, *, host: str = "127.0.0.1", port: int = 0, ssl_certfile: str | None = None,
          ssl_keyfile: str | None = None) -> RunningServer:
    """Start serving `app` and return once it listens. Port 0 picks a free port."""
    # Binding the socket here (not inside uvicorn) tells us the real port before start-up.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            # an unclosed client connection must not hold up shutdown
                            timeout_graceful_shutdown=1,
                            ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"uvicorn-{sock.getsockname()[1]}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"server on {host}:{sock.getsockname()[1]} failed to start")
        time.sleep(0.01)
    scheme = "https" if ssl_certfile else "http"
    return RunningServer(server, thread, f"{scheme}://{host}:{sock.getsockname()[1]}")


@dataclass
class MarketoServer:
    """A served Marketo sandbox: base URL (identity, /rest, /bulk), its state and credentials."""

    url: str
    sandbox: MarketoSandbox
    client_id: str
    client_secret: str


@contextmanager
def serve_marketo(config: MarketoSandboxConfig | None = None, *, host: str = "127.0.0.1",
                  port: int = 0) -> Iterator[MarketoServer]:
    """Serve a fresh Marketo sandbox for the duration of the `with` block."""
    sandbox = MarketoSandbox(config or MarketoSandboxConfig())
    with serve(create_marketo_app(sandbox), host=host, port=port) as running:
        yield MarketoServer(running.url, sandbox, sandbox.config.client_id,
                            sandbox.config.client_secret)


logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
