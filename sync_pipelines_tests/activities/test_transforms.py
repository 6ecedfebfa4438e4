"""Pure transforms, the BCC message and the activity generator, without any server."""

from datetime import datetime, timezone

import pandas as pd

from sync_pipelines.activities.bcc import bcc_message
from sync_pipelines.sandbox.activity_log import generate_activities, sellers_for_owners
from sync_pipelines.activities.transforms import delivered_in_read_back, marketo_activities, salesforce_tasks
from sync_pipelines.activities.types import ACTIVITY_TYPES

WHEN = datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)
TYPE_IDS = {spec.name: 100_001 + n for n, spec in enumerate(ACTIVITY_TYPES)}


def _row(**fields) -> dict:
    base = {"activity_id": 5, "marketo_id": 1001, "occurred_at": WHEN, "seller_id": "seller-001",
            "salesforce_contact_id": None, "salesforce_lead_id": "00Q000000000001AAA", "salesforce_user_id": "005X"}
    return {**base, **fields}


def test_marketo_activity_carries_type_primary_and_attributes_and_quarantines_missing_primary():
    rows = pd.DataFrame([
        _row(activity_type="Received Sales Call", call_outcome="Connected", call_status="completed",
             call_duration_seconds=125.0, campaign_name=None),
        _row(activity_id=6, activity_type="Sales Email Clicked", email_subject=None, link_clicked="https://x.test"),
    ])
    prepared = marketo_activities(rows, TYPE_IDS)
    assert prepared.payloads[5] == {
        "leadId": 1001, "activityDate": "2026-06-30T23:30:00Z", "activityTypeId": TYPE_IDS["Received Sales Call"],
        "primaryAttributeValue": "Connected",
        "attributes": [{"apiName": "actionsActivityId", "value": "5"}, {"apiName": "salesPersonId", "value": "seller-001"},
                       {"apiName": "callStatus", "value": "completed"}, {"apiName": "callDuration", "value": 125}],
    }
    assert prepared.quarantined == {6: "missing email_subject (the primary attribute of Sales Email Clicked)"}


def test_salesforce_tasks_for_emails_and_calls():
    rows = pd.DataFrame([
        _row(activity_type="Sales Email Sent", email_subject="S" * 300, email_body="Hi"),
        _row(activity_id=6, activity_type="Received Sales Call", salesforce_contact_id="003000000000001AAA",
             call_outcome="Left voicemail", call_status="no answer", call_duration_seconds=0, call_notes=None),
        _row(activity_id=7, activity_type="Received Sales Call", salesforce_lead_id=None),
    ])
    prepared = salesforce_tasks(rows)
    email, call = prepared.payloads[5], prepared.payloads[6]
    assert email["WhoId"] == "00Q000000000001AAA" and email["TaskSubtype"] == "Email" and email["Type"] == "Email"
    assert len(email["Subject"]) == 255 and email["Description"] == "Hi" and email["ActivityDate"] == "2026-06-30"
    assert email["Actions_Activity_Id__c"] == "5" and email["Status"] == "Completed" and email["OwnerId"] == "005X"
    assert call["WhoId"] == "003000000000001AAA"  # the Contact wins over the (converted) Lead
    assert (call["TaskSubtype"], call["CallType"], call["CallDurationInSeconds"]) == ("Call", "Outbound", 0)
    assert call["Subject"] == "Call: Left voicemail" and "Description" not in call
    assert prepared.quarantined == {7: "no Salesforce lead or contact id"}


def test_activity_date_is_the_sellers_local_day():
    # 23:30 UTC on 30 June is 08:30 on 1 July in Tokyo and still 30 June in Los Angeles.
    rows = pd.DataFrame([
        _row(activity_type="Received Sales Call", call_outcome="Connected", seller_time_zone="Asia/Tokyo"),
        _row(activity_id=6, activity_type="Received Sales Call", call_outcome="Connected",
             seller_time_zone="America/Los_Angeles"),
        _row(activity_id=7, activity_type="Received Sales Call", call_outcome="Connected", seller_time_zone=None),
        _row(activity_id=8, activity_type="Received Sales Call", call_outcome="Connected", seller_time_zone="Mars/Base"),
    ])
    prepared = salesforce_tasks(rows)
    assert {i: p["ActivityDate"] for i, p in prepared.payloads.items()} == {
        5: "2026-07-01", 6: "2026-06-30", 7: "2026-06-30"}
    assert prepared.quarantined == {8: "unknown seller time zone 'Mars/Base'"}


def test_call_status_outside_the_contract_is_quarantined_in_each_destination_and_blank_counts_as_missing():
    rows = pd.DataFrame([
        _row(activity_type="Received Sales Call", call_outcome="Connected", call_status="done"),
        _row(activity_id=6, activity_type="Received Sales Call", call_outcome="Connected", call_status="  "),
        _row(activity_id=7, activity_type="Received Sales Call", call_outcome="Connected", call_status="cancelled"),
    ])
    reason = "call_status 'done' is not one of completed, no answer, cancelled, failed"
    for prepared in (marketo_activities(rows, TYPE_IDS), salesforce_tasks(rows)):
        assert prepared.quarantined == {5: reason}
        assert set(prepared.payloads) == {6, 7}
    assert "CallDisposition" not in salesforce_tasks(rows).payloads[6]
    assert salesforce_tasks(rows).payloads[7]["CallDisposition"] == "cancelled"


def test_read_back_matches_only_our_activity_ids():
    activities = [
        {"marketoGUID": "g1", "attributes": [{"name": "Actions Activity ID", "apiName": "actionsActivityId", "value": "5"}]},
        {"marketoGUID": "g2", "attributes": [{"name": "Actions Activity ID", "value": "99"}]},
        {"marketoGUID": "g3", "attributes": [{"name": "Source", "value": "5"}]},
    ]
    assert delivered_in_read_back(activities, {5, 6}) == {5: "g1"}


def test_bcc_message_is_rfc5322_with_the_salesforce_address_in_bcc():
    row = pd.Series(_row(activity_type="Sales Email Sent", email_subject="Quick question", email_body="Hello\n",
                         seller_name="Rep One", seller_email="rep1@sellers.example.com",
                         person_email="pat@example.org", email_to_salesforce_address="e2s@x.le.salesforce.com"))
    message = bcc_message(row)
    assert message["From"] == "Rep One <rep1@sellers.example.com>" and message["To"] == "pat@example.org"
    assert message["Bcc"] == "e2s@x.le.salesforce.com" and message["Subject"] == "Quick question"
    assert message["Message-ID"] == "<actions-activity-5@activities.sync-pipelines.invalid>"
    assert message["Date"] == "Tue, 30 Jun 2026 23:30:00 +0000"


def test_generator_is_deterministic_and_realistic():
    people = pd.DataFrame({"marketo_id": [1001, 1002, 1003], "owner_id": ["005A", "005B", None],
                           "company": ["Acme", "Globex", "Initech"]})
    sellers = sellers_for_owners(["005A", "005B"])
    first = generate_activities(people, sellers, 200, seed=9)
    assert first.equals(generate_activities(people, sellers, 200, seed=9))
    assert len(first) == 200 and set(first["marketo_id"]) <= {1001, 1002}  # only owned people get activity
    assert first["occurred_at"].is_monotonic_increasing
    assert {"Added to Sales Campaign", "Sales Email Sent", "Sales Email Opened", "Received Sales Call"} <= set(
        first["activity_type"])
    sent = first[first["activity_type"] == "Sales Email Sent"]
    assert sent["email_subject"].notna().all() and sent["email_body"].notna().all()
