"""Org pinning: the first run pins the Salesforce org and Marketo instance; a run against another org is refused
with nothing written, until an operator re-pins deliberately."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from sync_pipelines.pinning import MARKETO, SALESFORCE, main, marketo_instance, pinned_identity, require_pinned
from sync_pipelines.resources import ActionsDatabase, SalesforceResource
from sync_pipelines.salesforce import SalesforceClient
from sync_pipelines.sandbox.salesforce_app import serve_salesforce
from sync_pipelines.sandbox.salesforce_state import SalesforceSandboxConfig
from sync_pipelines.tasks.assets import salesforce_tasks
from sync_pipelines_tests.fixtures.database import table_snapshot
from sync_pipelines_tests.fixtures.sellers import task_seller

ORG_A, ORG_B = "00D5E0000000001EAA", "00D7F0000000009XYZ"
TASK_TABLES = ["salesforce_task_change", "actions_task", "task_sync_state"]


def _salesforce(served) -> SalesforceResource:
    return SalesforceResource(instance_url=served.url, client_id=served.client_id, client_secret=served.client_secret,
                              ca_bundle=str(served.ca_path))


def _pull_tasks(served, database_url, **config) -> dg.ExecuteInProcessResult:
    return dg.materialize([salesforce_tasks], raise_on_error=False,
                          run_config={"ops": {"salesforce_tasks": {"config": config}}},
                          resources={"salesforce": _salesforce(served), "actions_db": ActionsDatabase(url=database_url)})


def _pin(database_url, service):
    with psycopg.connect(database_url) as conn:
        return pinned_identity(conn, service)


def test_the_emulator_answers_userinfo_with_its_org_id(salesforce_sandbox):
    with SalesforceClient(salesforce_sandbox.url, client_id=salesforce_sandbox.client_id,
                          client_secret=salesforce_sandbox.client_secret, ca_bundle=salesforce_sandbox.ca_path) as client:
        assert client.organization_id() == ORG_A


def test_a_changed_salesforce_org_is_refused_until_repinned(database_url, monkeypatch, capsys):
    with serve_salesforce(SalesforceSandboxConfig(size=40)) as org_a, \
            serve_salesforce(SalesforceSandboxConfig(size=40, seed=5, organization_id=ORG_B)) as org_b:
        task_seller(database_url, org_a.sandbox.integration_user_id)  # someone's tasks sync, so the run reads
        assert _pull_tasks(org_a, database_url).success
        assert _pin(database_url, SALESFORCE) == ORG_A
        before = table_snapshot(database_url, TASK_TABLES)

        refused = _pull_tasks(org_b, database_url)  # credentials swapped to another org
        assert not refused.success
        failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.event_specific_data.error.message
        assert f"pinned to Salesforce org {ORG_A}" in message and f"reach Salesforce org {ORG_B}" in message
        assert "make repin" in message
        assert table_snapshot(database_url, TASK_TABLES) == before

        for name, value in {"SYNC_ENV": "sandbox", "SYNC_DATABASE_URL": database_url,
                            "SALESFORCE_INSTANCE_URL": org_b.url, "SALESFORCE_CLIENT_ID": org_b.client_id,
                            "SALESFORCE_CLIENT_SECRET": org_b.client_secret,
                            "SALESFORCE_CA_BUNDLE": str(org_b.ca_path)}.items():
            monkeypatch.setenv(name, value)
        assert main(["repin", "--service", "salesforce"]) == 0
        assert f"pinned to {ORG_B} (was {ORG_A})" in capsys.readouterr().out
        assert _pin(database_url, SALESFORCE) == ORG_B
        assert _pull_tasks(org_b, database_url).success


def test_a_run_that_fails_pins_nothing(database_url):
    with psycopg.connect(database_url) as setup:
        from sync_pipelines.store.migrate import migrate
        migrate(setup)
    with psycopg.connect(database_url) as conn:
        require_pinned(conn, MARKETO, "123-ABC-456")
        conn.rollback()
        assert pinned_identity(conn, MARKETO) is None
        require_pinned(conn, MARKETO, "123-ABC-456")
        conn.commit()
        with pytest.raises(dg.Failure, match="pinned to Marketo instance 123-ABC-456.*reach Marketo instance 987-XYZ-654"):
            require_pinned(conn, MARKETO, "987-XYZ-654")


@pytest.mark.parametrize(("url", "identity"), [
    ("https://123-abc-456.mktorest.com", "123-ABC-456"), ("https://123-ABC-456.mktorest.com/", "123-ABC-456"),
    ("http://127.0.0.1:50123", "127.0.0.1"), ("https://marketo.example.com:8443", "marketo.example.com"),
])
def test_the_marketo_instance_is_its_munchkin_id(url, identity):
    assert marketo_instance(url) == identity
