"""The activity fan-out end to end: Marketo and Salesforce emulators over loopback, a real PostgreSQL."""

import psycopg

from sync_pipelines.activities import types
from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines_tests.activities.helpers import (
    UNKNOWN_LEAD,
    actions_id_of,
    fan_out,
    log_activity,
    logged,
    marketo_custom_activities,
    salesforce_tasks_by_activity,
    states,
    sync_people,
)

ACTIVITY_COUNT = 400


def _prepare(marketo_sandbox, database_url, count=ACTIVITY_COUNT) -> None:
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, count)


def _assert_marketo_exactly_once(marketo_sandbox, database_url, skip: set[int] = frozenset()) -> None:
    log = logged(database_url)
    arrived = marketo_custom_activities(marketo_sandbox.sandbox)
    by_id: dict[int, list[dict]] = {}
    for activity in arrived:
        by_id.setdefault(actions_id_of(activity), []).append(activity)
    expected_ids = set(log["activity_id"]) - skip
    assert set(by_id) == expected_ids, "no gap, nothing extra"
    assert all(len(found) == 1 for found in by_id.values()), "no duplicate"
    type_names = {t["id"]: t["name"] for t in marketo_sandbox.sandbox.custom_activity_types.standard_json()}
    for row in log.itertuples():
        if row.activity_id in skip:
            continue
        (activity,) = by_id[row.activity_id]
        assert type_names[activity["activityTypeId"]] == row.activity_type
        assert activity["leadId"] == row.marketo_id
        spec = types.TYPES_BY_NAME[row.activity_type]
        assert activity["primaryAttributeValue"] == str(getattr(row, spec.primary.column))
        values = {a["apiName"]: a["value"] for a in activity["attributes"]}
        for attribute in spec.attributes:
            expected = getattr(row, attribute.column)
            if expected is not None and expected == expected:
                if attribute.data_type == "integer":
                    expected = int(expected)
                assert str(values[attribute.api_name]) == str(expected)


def _assert_salesforce_exactly_once(salesforce_sandbox, database_url) -> None:
    log = logged(database_url)
    tasks = salesforce_tasks_by_activity(salesforce_sandbox.sandbox)
    wanted = log[log["activity_type"].isin([types.EMAIL_TASK_TYPE, types.CALL_TASK_TYPE])]
    assert set(tasks) == {str(i) for i in wanted["activity_id"]}
    for row in wanted.itertuples():
        (task,) = tasks[str(row.activity_id)]
        contact = row.salesforce_contact_id if isinstance(row.salesforce_contact_id, str) else None
        assert task["WhoId"] == (contact or row.salesforce_lead_id)
        assert task["Status"] == "Completed" and task["IsClosed"]
        assert task["TaskSubtype"] == ("Call" if row.activity_type == types.CALL_TASK_TYPE else "Email")
        assert task["ActivityDate"].isoformat() == row.occurred_at.date().isoformat()


def test_every_activity_arrives_once_with_its_type_and_attributes(marketo_sandbox, salesforce_sandbox, database_url):
    _prepare(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        unknown = log_activity(conn, UNKNOWN_LEAD, "Sales Email Opened", email_subject="Hello")
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    mkto, sf = metadata["marketo_sales_activities"], metadata["salesforce_activity_tasks"]
    assert metadata["marketo_sales_activity_types"]["types_created"] == 8
    assert mkto["delivered"] == ACTIVITY_COUNT and mkto["quarantined"] == 1
    assert states(database_url, "marketo")[unknown] == ("quarantined", "Marketo 1004: Lead not found")
    _assert_marketo_exactly_once(marketo_sandbox, database_url, skip={unknown})
    _assert_salesforce_exactly_once(salesforce_sandbox, database_url)
    assert sf["tasks_delivered"] == len(salesforce_tasks_by_activity(salesforce_sandbox.sandbox))
    # Full batches: 401 activities -> 2 insert calls; Tasks: one call per 200.
    assert marketo_sandbox.sandbox.calls_by_path["/rest/v1/activities/external.json"] == 2
    print(f"\nAPI calls for {ACTIVITY_COUNT} activities: Marketo {mkto['marketo_api_calls']}, "
          f"Salesforce {sf['salesforce_api_calls']} ({sf['tasks_delivered']} Tasks)")

    # A second run finds nothing to do: the types are current, nothing is sent again.
    ok, again = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    assert again["marketo_sales_activity_types"]["types_already_current"] == 8
    # Only reads: the types list carries no attributes, so each of the 8 types is described (1 + 8 calls).
    assert again["marketo_sales_activity_types"]["marketo_api_calls"] == 9
    assert again["marketo_sales_activities"]["delivered"] == 0
    assert again["salesforce_activity_tasks"]["tasks_delivered"] == 0
    _assert_marketo_exactly_once(marketo_sandbox, database_url, skip={unknown})
    _assert_salesforce_exactly_once(salesforce_sandbox, database_url)
