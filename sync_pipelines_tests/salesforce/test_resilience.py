"""Session renewal, transient-error retries and quota exhaustion."""

from __future__ import annotations

import pytest

from sync_pipelines.salesforce import SalesforceClient, SalesforceQuotaExceeded
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines_tests.fixtures.salesforce import QUERY_PAGE_SIZE


def test_expired_session_is_renewed_mid_query(salesforce_sandbox, salesforce_client):
    sandbox = salesforce_sandbox.sandbox
    rows = salesforce_client.query("SELECT Id FROM Lead")
    first_page = [next(rows) for _ in range(QUERY_PAGE_SIZE)]
    sandbox.expire_sessions()  # the next page request answers 401 INVALID_SESSION_ID
    rest = list(rows)
    ids = [r["Id"] for r in first_page + rest]
    assert len(ids) == len(set(ids)) == len(sandbox.records("Lead"))
    # The refused call never reached the counter; the client counted it, plus the replay.
    assert salesforce_client.api_calls == sandbox.api_calls + 1


def test_session_ttl_expiry_is_renewed(salesforce_sandbox, salesforce_client, salesforce_clock):
    salesforce_clock.advance(hours=3)  # past the 2-hour session lifetime
    assert list(salesforce_client.query("SELECT Id FROM User"))


def test_server_errors_are_retried(salesforce_sandbox, salesforce_client):
    salesforce_sandbox.sandbox.inject_errors("5xx", count=2, path_prefix="query")
    assert len(list(salesforce_client.query("SELECT Id FROM User"))) > 0
    assert salesforce_sandbox.sandbox.api_calls == 3


def test_request_limit_exceeded_raises_at_once(salesforce_sandbox, salesforce_client):
    salesforce_sandbox.sandbox.inject_errors("REQUEST_LIMIT_EXCEEDED", count=10)
    with pytest.raises(SalesforceQuotaExceeded, match="REQUEST_LIMIT_EXCEEDED"):
        list(salesforce_client.query("SELECT Id FROM Lead"))
    assert salesforce_sandbox.sandbox.api_calls == 1  # no retry spin


def test_daily_limit_is_enforced_and_reported(salesforce_clock):
    config = SalesforceSandboxConfig(size=20, daily_request_limit=3, now=salesforce_clock)
    with serve_salesforce(config) as running, SalesforceClient(
            running.url, client_id=running.client_id, client_secret=running.client_secret,
            ca_bundle=running.ca_path, backoff_seconds=0.01) as client:
        for remaining in (2, 1, 0):
            assert list(client.query("SELECT Id FROM User"))
            assert running.sandbox.limits()["DailyApiRequests"]["Remaining"] == remaining
        with pytest.raises(SalesforceQuotaExceeded):
            list(client.query("SELECT Id FROM User"))
