"""Task writes through sObject Collections: chunking, per-record errors, retries of failed records only."""

from __future__ import annotations

from sync_pipelines.salesforce import quote

UPSERT_PATH = "/services/data/v62.0/composite/sobjects/Task/Actions_Task_Id__c"


def _lead_ids(client, count):
    return [r["Id"] for r in client.query(f"SELECT Id FROM Lead ORDER BY Id LIMIT {count}")]


def _create(client, rows):
    """New Tasks through the write the sync uses: an upsert by external id (new ids create records)."""
    return client.upsert_many("Task", "Actions_Task_Id__c", rows)


def _tasks(who_ids, count, prefix="act"):
    return [{"Subject": f"Call {i}", "WhoId": who_ids[i % len(who_ids)], "TaskSubtype": "Call",
             "ActivityDate": "2026-07-02", "Actions_Task_Id__c": f"{prefix}-{i}"} for i in range(count)]


def test_create_update_upsert_delete_in_chunks_of_200(salesforce_sandbox, salesforce_client):
    sandbox = salesforce_sandbox.sandbox
    who = _lead_ids(salesforce_client, 10)
    created = _create(salesforce_client, _tasks(who, 450))
    assert len(created) == 450 and all(r.success for r in created)
    assert sandbox.calls_by_path[UPSERT_PATH] == 3  # 200 + 200 + 50
    assert len(sandbox.records("Task")) == 450

    updated = salesforce_client.update_many("Task", [{"Id": r.id, "Status": "Completed"} for r in created[:250]])
    assert all(r.success for r in updated)
    assert sum(t["IsClosed"] for t in sandbox.records("Task")) == 250

    # Upsert: 200 existing external ids are updated, 50 new ones are created.
    rows = [{"Actions_Task_Id__c": f"act-{i}", "Subject": "Upserted"} for i in range(250, 450)]
    rows += [{"Actions_Task_Id__c": f"new-{i}", "Subject": "Upserted", "WhoId": who[0]} for i in range(50)]
    upserted = _create(salesforce_client, rows)
    assert all(r.success for r in upserted)
    assert [r.id for r in upserted[:200]] == [r.id for r in created[250:450]]
    tasks = sandbox.records("Task")
    assert len(tasks) == 500 and sum(t["Subject"] == "Upserted" for t in tasks) == 250

    deleted = salesforce_client.delete_many([r.id for r in created])
    assert all(r.success for r in deleted)
    assert len(sandbox.records("Task")) == 50
    assert len(list(salesforce_client.query_all_including_deleted(
        "SELECT Id FROM Task WHERE IsDeleted = true"))) == 450


def test_bad_who_id_fails_alone(salesforce_client, salesforce_sandbox):
    who = _lead_ids(salesforce_client, 3)
    rows = _tasks(who, 5)
    rows[2]["WhoId"] = "00Q5g0000999999AAE"  # well-formed, but no such lead
    results = _create(salesforce_client, rows)
    assert [r.success for r in results] == [True, True, False, True, True]
    assert results[2].error_code == "INVALID_CROSS_REFERENCE_KEY" and results[2].id is None
    assert len(salesforce_sandbox.sandbox.records("Task")) == 4


def test_task_subtype_is_not_updateable(salesforce_client):
    who = _lead_ids(salesforce_client, 1)
    [created] = _create(salesforce_client, _tasks(who, 1))
    [result] = salesforce_client.update_many("Task", [{"Id": created.id, "TaskSubtype": "Email"}])
    assert (result.success, result.error_code) == (False, "INVALID_FIELD_FOR_INSERT_UPDATE")


def test_duplicate_external_id_is_reported(salesforce_client):
    who = _lead_ids(salesforce_client, 1)
    first, second = _create(salesforce_client, _tasks(who, 2))
    [again] = salesforce_client.update_many("Task", [{"Id": second.id, "Actions_Task_Id__c": "act-0"}])
    assert (again.success, again.error_code) == (False, "DUPLICATE_VALUE")


def test_lock_errors_resubmit_only_the_failed_records(salesforce_sandbox, salesforce_client):
    sandbox = salesforce_sandbox.sandbox
    who = _lead_ids(salesforce_client, 5)
    sandbox.inject_errors("UNABLE_TO_LOCK_ROW", count=3, path_prefix="composite/sobjects")
    results = _create(salesforce_client, _tasks(who, 10))
    assert all(r.success for r in results)
    # One call for all 10, one for the 3 locked ones (the 7 others are not resent).
    assert sandbox.calls_by_path[UPSERT_PATH] == 2
    tasks = sandbox.records("Task")
    assert sorted(t["Actions_Task_Id__c"] for t in tasks) == sorted(f"act-{i}" for i in range(10))
    found = list(salesforce_client.query(f"SELECT Id FROM Task WHERE Actions_Task_Id__c = {quote('act-0')}"))
    assert [r["Id"] for r in found] == [results[0].id]


def test_lock_errors_that_persist_are_returned(salesforce_sandbox, salesforce_client):
    who = _lead_ids(salesforce_client, 1)
    salesforce_sandbox.sandbox.inject_errors("UNABLE_TO_LOCK_ROW", count=100, path_prefix="composite/sobjects")
    [result] = _create(salesforce_client, _tasks(who, 1))
    assert (result.success, result.error_code) == (False, "UNABLE_TO_LOCK_ROW")
    assert salesforce_sandbox.sandbox.calls_by_path[UPSERT_PATH] == 5  # max_retries
