"""The client-side throttle keeps a busy client inside the sandbox's rate and concurrency limits."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from sync_pipelines.marketo import MarketoClient
from sync_pipelines.marketo.limiter import CallLimiter
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo

SINCE = datetime(2026, 1, 1, tzinfo=timezone.utc)  # any start: paging_token is one plain, uncached API call


def test_thirty_calls_never_trip_the_rate_limit():
    config = MarketoSandboxConfig(size=50, calls_per_window=10, window_seconds=1.0)
    with serve_marketo(config) as mk:
        client = MarketoClient(
            mk.url, mk.client_id, mk.client_secret, calls_per_window=10, window_seconds=1.0, max_concurrent=3
        )
        started = time.monotonic()
        with client, ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda _: client.paging_token(SINCE), range(30)))
        elapsed = time.monotonic() - started
        # Any 606 would have been answered (and counted) by the sandbox and then retried.
        assert client.calls_used == 30 == mk.sandbox.api_calls
        # 30 calls at 10 per second-long window need at least two full waits.
        assert elapsed >= 2.0


def test_concurrency_limit_avoids_615():
    config = MarketoSandboxConfig(size=50, max_concurrent=2, latency_seconds=0.05)
    with serve_marketo(config) as mk:
        client = MarketoClient(mk.url, mk.client_id, mk.client_secret, max_concurrent=2, calls_per_window=100)
        with client, ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: client.paging_token(SINCE), range(16)))
        assert client.calls_used == 16 == mk.sandbox.api_calls


def test_pause_holds_every_caller_back():
    limiter = CallLimiter(calls_per_window=100, window_seconds=1.0, max_concurrent=5)
    limiter.pause(0.3)
    started = time.monotonic()
    with limiter.slot():
        pass
    assert time.monotonic() - started >= 0.3
