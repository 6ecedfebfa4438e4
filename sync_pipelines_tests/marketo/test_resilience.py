"""Tokens, retries and error mapping of MarketoClient, against the Marketo sandbox over loopback."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from sync_pipelines.marketo import MarketoAuthError, MarketoClient, MarketoError, MarketoQuotaExceeded
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo

SINCE = datetime(2026, 1, 1, tzinfo=timezone.utc)  # any start: paging_token is one plain, uncached API call


@pytest.fixture
def mk():
    with serve_marketo(MarketoSandboxConfig(size=300)) as server:
        yield server


def make_client(mk, **options) -> MarketoClient:
    """A client with short backoffs so retry tests stay fast."""
    settings = {"retry_backoff_seconds": 0.01, "window_seconds": 0.2, "calls_per_window": 100, **options}
    return MarketoClient(mk.url, mk.client_id, mk.client_secret, **settings)


def identity_requests(caplog) -> int:
    return sum("/identity/oauth/token" in r.getMessage() for r in caplog.records if r.name == "httpx")


def live_token(mk) -> str:
    """The token the client holds: the sandbox hands out the same one while it is valid."""
    params = {"grant_type": "client_credentials", "client_id": mk.client_id, "client_secret": mk.client_secret}
    return httpx.get(f"{mk.url}/identity/oauth/token", params=params).json()["access_token"]


def test_token_is_fetched_once_and_reused(mk, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    with make_client(mk) as client:
        for _ in range(3):
            assert client.paging_token(SINCE)
        assert identity_requests(caplog) == 1
        assert client.calls_used == 3 == mk.sandbox.api_calls
    # The identity URL carries the secret in its query; httpx's log line must not show it.
    assert mk.client_secret not in caplog.text


def test_expired_token_is_renewed_and_the_call_replayed(mk, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    with make_client(mk, max_retries=0) as client:  # max_retries=0: a replay is not a retry
        client.paging_token(SINCE)
        mk.sandbox.expire_tokens()
        assert client.paging_token(SINCE)
        assert identity_requests(caplog) == 2
        assert client.calls_used == 3  # first call, the 602 answer, the replay


def test_injected_602_is_renewed_without_using_a_retry(mk):
    with make_client(mk, max_retries=0) as client:
        mk.sandbox.inject_errors("602", 1)
        assert client.lead_fields()["email"]["dataType"] == "email"


def test_burst_of_606_is_retried_until_it_succeeds(mk):
    with make_client(mk, max_retries=6) as client:
        mk.sandbox.inject_errors("606", 5)
        assert client.paging_token(SINCE)
        assert client.calls_used == 6


@pytest.mark.parametrize("code", ["615", "604", "608", "611", "713", "5xx"])
def test_transient_errors_are_retried(mk, code):
    with make_client(mk, max_retries=3) as client:
        mk.sandbox.inject_errors(code, 2)
        assert client.paging_token(SINCE)
        assert client.calls_used == 3


def test_retries_exhausted_raise_marketo_error_with_the_last_code(mk):
    with make_client(mk, max_retries=2) as client:
        mk.sandbox.inject_errors("611", 10)
        with pytest.raises(MarketoError) as caught:
            client.paging_token(SINCE)
        assert caught.value.code == "611"
        assert client.calls_used == 3


def test_daily_quota_607_raises_at_once(mk):
    with make_client(mk, max_retries=6) as client:
        mk.sandbox.inject_errors("607", 50)
        with pytest.raises(MarketoQuotaExceeded) as caught:
            client.paging_token(SINCE)
    assert client.calls_used == 1  # never spins on a spent quota
    assert "midnight US Central" in str(caught.value)
    now = datetime.now(timezone.utc)
    assert now < caught.value.resets_at <= now + timedelta(hours=25)


def test_real_quota_exhaustion_in_the_sandbox(mk):
    mk.sandbox.config.daily_quota = 2
    with make_client(mk) as client:
        client.paging_token(SINCE)
        client.paging_token(SINCE)
        with pytest.raises(MarketoQuotaExceeded):
            client.paging_token(SINCE)


def test_client_side_call_budget_stops_before_sending(mk):
    with make_client(mk, daily_call_budget=2) as client:
        client.paging_token(SINCE)
        client.paging_token(SINCE)
        with pytest.raises(MarketoQuotaExceeded):
            client.paging_token(SINCE)
    assert mk.sandbox.api_calls == 2


@pytest.mark.parametrize("code", ["603", "610", "1003"])
def test_permanent_errors_are_not_retried(mk, code):
    with make_client(mk, max_retries=6) as client:
        mk.sandbox.inject_errors(code, 1)
        with pytest.raises(MarketoError) as caught:
            client.paging_token(SINCE)
    assert caught.value.code == code
    assert client.calls_used == 1


def test_bad_credentials_raise_auth_error_without_the_secret(mk):
    secret = "not-the-right-secret-4711"
    with MarketoClient(mk.url, mk.client_id, secret) as client:
        with pytest.raises(MarketoAuthError) as caught:
            client.paging_token(SINCE)
    assert secret not in str(caught.value)
    assert client.calls_used == 0


def test_no_secret_or_token_in_exceptions_or_logs(mk, caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    with make_client(mk, max_retries=1) as client:
        client.paging_token(SINCE)
        token = live_token(mk)
        for code in ("607", "603", "611"):
            mk.sandbox.inject_errors(code, 2)
            with pytest.raises(MarketoError) as caught:
                client.paging_token(SINCE)
            messages.append(str(caught.value))
            messages.append(repr(caught.value.__cause__))
    text = "\n".join(messages) + caplog.text
    assert token not in text
    assert mk.client_secret not in text
