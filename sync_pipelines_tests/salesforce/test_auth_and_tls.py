"""Login by client credentials over HTTPS, and TLS verification that is really on."""

from __future__ import annotations

import pytest

from sync_pipelines.salesforce import SalesforceAuthError, SalesforceClient


def test_client_credentials_login_then_api_call(salesforce_sandbox, salesforce_client):
    assert list(salesforce_client.query("SELECT Id FROM User"))
    assert salesforce_sandbox.sandbox.api_calls == 1
    assert salesforce_sandbox.sandbox.limits()["DailyApiRequests"]["Remaining"] == 100000 - 1


def test_wrong_secret_is_refused_without_echoing_it(salesforce_sandbox):
    with pytest.raises(SalesforceAuthError) as raised:
        SalesforceClient(salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                         client_secret="wrong-secret-value", ca_bundle=salesforce_sandbox.ca_path)
    assert "invalid_client" in str(raised.value)
    assert "wrong-secret-value" not in str(raised.value)


def test_client_without_the_sandbox_ca_fails_tls(salesforce_sandbox):
    # The system store does not know the sandbox's throwaway CA: verification must fail.
    with pytest.raises(SalesforceAuthError, match="SSLError"):
        SalesforceClient(salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                         client_secret=salesforce_sandbox.client_secret)
    assert salesforce_sandbox.sandbox.api_calls == 0


def test_ca_bundle_wins_over_requests_ca_bundle_env(salesforce_sandbox, monkeypatch):
    # REQUESTS_CA_BUNDLE would override session.verify unless the client disables trust_env.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = SalesforceClient(salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                              client_secret=salesforce_sandbox.client_secret, ca_bundle=salesforce_sandbox.ca_path)
    assert list(client.query("SELECT Id FROM User"))
