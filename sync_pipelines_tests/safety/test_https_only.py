"""Credentials never travel over plain http: a local plain-HTTP listener receives not one byte."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dagster as dg
import pytest

from sync_pipelines.resources import MarketoResource
from sync_pipelines.salesforce import SalesforceClient

SECRET = "client-secret-on-the-wire"


class PlainHttpListener:
    """A TCP listener on loopback that records every byte any client sends it."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    while chunk := conn.recv(65536):
                        self.received += chunk
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[PlainHttpListener]:
    running = PlainHttpListener()
    yield running
    running.close()


def test_the_salesforce_client_refuses_a_plain_http_instance_before_sending(listener):
    with pytest.raises(ValueError, match="SALESFORCE_INSTANCE_URL must be an https:// URL"):
        SalesforceClient(listener.url, client_id="id", client_secret=SECRET, backoff_seconds=0.01)
    with pytest.raises(ValueError, match="https"):
        SalesforceClient(listener.url, username="u", password=SECRET, security_token=SECRET)
    listener.close()
    assert bytes(listener.received) == b""


def test_the_marketo_resource_refuses_plain_http_in_production_before_sending(listener, monkeypatch):
    monkeypatch.setenv("SYNC_ENV", "production")
    resource = MarketoResource(base_url=listener.url, client_id="id", client_secret=SECRET)
    with pytest.raises(dg.Failure, match="MARKETO_BASE_URL must be an https:// URL"):
        with resource.client():
            pass
    listener.close()
    assert bytes(listener.received) == b""


def test_a_malformed_marketo_url_fails_at_once_not_after_retries(monkeypatch):
    monkeypatch.setenv("SYNC_ENV", "production")
    resource = MarketoResource(base_url="https://123-ABC-456.mktorest.com/rest", client_id="id", client_secret=SECRET)
    with pytest.raises(dg.Failure, match="instance root"):
        with resource.client():
            pass


def test_production_never_falls_back_to_the_emulators(monkeypatch):
    monkeypatch.setenv("SYNC_ENV", "production")
    with pytest.raises(dg.Failure, match="MARKETO_BASE_URL is not set"):
        with MarketoResource().client():
            pass
