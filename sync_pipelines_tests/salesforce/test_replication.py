"""getDeleted windows, driven by the sandbox's manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sync_pipelines.salesforce import SalesforceRequestError


def _new_task(sandbox, who_id, n):
    return sandbox.create("Task", Subject=f"Task {n}", WhoId=who_id, Actions_Task_Id__c=f"t-{n}")


def test_deleted_window_keeps_15_days(salesforce_sandbox, salesforce_client, salesforce_clock):
    sandbox = salesforce_sandbox.sandbox
    who = sandbox.records("Lead")[0]["Id"]
    task = _new_task(sandbox, who, 1)
    salesforce_clock.advance(minutes=1)
    deleted_at = salesforce_clock()
    sandbox.delete("Task", task)
    salesforce_clock.advance(minutes=2)

    records, earliest, latest = salesforce_client.deleted_records("Task", deleted_at - timedelta(minutes=1),
                                                                  salesforce_clock())
    assert [r["id"] for r in records] == [task] and records[0]["deletedDate"] == deleted_at
    assert earliest <= deleted_at < latest

    salesforce_clock.advance(days=16)  # the recycle bin forgets it
    records, earliest, _ = salesforce_client.deleted_records("Task", deleted_at - timedelta(minutes=1),
                                                             salesforce_clock())
    assert records == [] and earliest > deleted_at
    assert list(salesforce_client.query_all_including_deleted("SELECT Id FROM Task")) == []


def test_window_rules(salesforce_client, salesforce_clock):
    now = salesforce_clock()
    with pytest.raises(ValueError, match="timezone-aware"):
        salesforce_client.deleted_records("Task", datetime(2026, 6, 30), now)
    with pytest.raises(SalesforceRequestError) as raised:
        salesforce_client.deleted_records("Task", now, now - timedelta(hours=1))
    assert raised.value.error_code == "INVALID_REPLICATION_DATE"
