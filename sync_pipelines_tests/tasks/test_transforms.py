"""The pure reconciliation rules, without any server."""

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from sync_pipelines.store.tasks import CONTENT_COLUMNS
from sync_pipelines.tasks.transforms import normalize_salesforce_tasks, plan_pull, plan_push

NOW = datetime(2026, 7, 2, 12, tzinfo=timezone.utc)
TASK_COLUMNS = ["task_id", "salesforce_task_id", *CONTENT_COLUMNS, "updated_at", "deleted_at", "synced_version",
                "salesforce_modstamp", "reminder_synced"]


def sf_record(**overrides):
    record = {"Id": "00T000000000001AAA", "IsDeleted": False, "Subject": "Call", "ActivityDate": "2026-07-03",
              "Status": "Not Started", "Priority": "Normal", "Description": None, "OwnerId": None, "WhoId": None,
              "IsReminderSet": False, "ReminderDateTime": None, "Actions_Task_Id__c": None,
              "LastModifiedDate": "2026-07-02T11:00:00.000+0000", "SystemModstamp": "2026-07-02T11:00:00.000+0000"}
    return {**record, **overrides}


def actions_row(**overrides):
    row = {"task_id": 7, "salesforce_task_id": "00T000000000001AAA", "subject": "Call", "due_date": date(2026, 7, 3),
           "status": "Not Started", "priority": "Normal", "notes": None, "owner_id": None, "who_id": None,
           "reminder_at": None, "updated_at": NOW - timedelta(hours=5), "deleted_at": None,
           "synced_version": NOW - timedelta(hours=5), "salesforce_modstamp": NOW - timedelta(hours=5),
           "reminder_synced": True}
    return {**row, **overrides}


def decide(record, row=None):
    changes, bad = normalize_salesforce_tasks([record])
    assert bad.empty
    tasks = pd.DataFrame([row] if row else [], columns=TASK_COLUMNS)
    return plan_pull(changes, tasks, NOW).iloc[0]


def test_new_salesforce_task_is_inserted_and_a_deletion_of_an_unknown_task_is_skipped():
    assert decide(sf_record()).action == "insert"
    assert decide(sf_record(IsDeleted=True)).action == "skip"


def test_the_version_the_sync_wrote_is_not_a_change():
    stamp = datetime(2026, 7, 2, 11, tzinfo=timezone.utc)
    assert decide(sf_record(Subject="changed?"), actions_row(salesforce_modstamp=stamp)).action == "skip"


def test_equal_content_is_only_acknowledged():
    assert decide(sf_record(), actions_row()).action == "acknowledge"


def test_a_salesforce_edit_updates_an_unedited_actions_task():
    plan = decide(sf_record(Subject="New subject"), actions_row())
    assert (plan.action, plan.subject, plan.conflict) == ("update", "New subject", False)


@pytest.mark.parametrize(("actions_edited_at", "winner"), [
    (NOW - timedelta(hours=2), "update"),        # Salesforce edited at 11:00, later: Salesforce wins
    (NOW - timedelta(minutes=30), "keep_actions"),  # Actions edited at 11:30, later: Actions wins
    (NOW - timedelta(hours=1), "update"),        # a tie: Salesforce wins
])
def test_conflict_last_modification_wins(actions_edited_at, winner):
    plan = decide(sf_record(Subject="SF"), actions_row(subject="Actions", updated_at=actions_edited_at))
    assert (plan.action, bool(plan.conflict)) == (winner, True)


def test_deletion_wins_over_an_edit_on_the_other_side():
    assert decide(sf_record(IsDeleted=True), actions_row(updated_at=NOW)).action == "delete"
    assert decide(sf_record(Subject="edited"), actions_row(deleted_at=NOW)).action == "skip"
    assert decide(sf_record(Actions_Task_Id__c="7"), actions_row(salesforce_task_id=None, deleted_at=NOW)).action == "link"


def test_a_create_whose_answer_was_lost_is_matched_by_its_actions_id():
    plan = decide(sf_record(Actions_Task_Id__c="7"), actions_row(salesforce_task_id=None, synced_version=None,
                                                                   salesforce_modstamp=None))
    assert (plan.action, plan.task_id) == ("acknowledge", 7)


def test_reminders_older_than_24_hours_are_not_pulled():
    reminder = "2026-07-05T09:00:00.000+0000"
    old = sf_record(IsReminderSet=True, ReminderDateTime=reminder, LastModifiedDate="2026-07-01T11:00:00.000+0000")
    recent = sf_record(IsReminderSet=True, ReminderDateTime=reminder)
    assert pd.isna(decide(old).reminder_at) and not decide(old).reminder_synced
    assert decide(recent).reminder_at == pd.Timestamp(reminder) and decide(recent).reminder_synced


def test_unusable_salesforce_records_are_quarantined_with_their_reason():
    clean, bad = normalize_salesforce_tasks([sf_record(ActivityDate="soon"), sf_record(Id=None), sf_record(Id="00T2")])
    assert list(clean["salesforce_task_id"]) == ["00T2"]
    assert list(bad["reason"]) == ["ActivityDate is not valid", "no Id"]


def test_push_payloads_and_quarantine():
    base = {"kind": "create", "salesforce_task_id": None, "subject": "Demo", "due_date": date(2026, 7, 3),
            "status": "Not Started", "priority": "High", "notes": None, "owner_id": None, "who_id": None,
            "reminder_at": None, "reminder_synced": True, "updated_at": NOW}
    pending = pd.DataFrame([
        {**base, "task_id": 1},
        {**base, "task_id": 2, "priority": "Urgent"},
        {**base, "task_id": 3, "kind": "update", "salesforce_task_id": "00T3", "reminder_synced": False},
    ])
    payloads, bad = plan_push(pending)
    create, update = payloads["payload"]
    assert create == {"Subject": "Demo", "ActivityDate": "2026-07-03", "Status": "Not Started", "Priority": "High",
                      "Description": None, "WhoId": None, "IsReminderSet": False, "ReminderDateTime": None,
                      "Actions_Task_Id__c": "1"}
    assert update["Id"] == "00T3" and "IsReminderSet" not in update  # a reminder never pulled is left alone
    assert list(bad["source_key"]) == ["actions:2"] and "priority" in bad["reason"][0]
