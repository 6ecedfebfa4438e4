"""Converted Leads and person changes: activities land on the Contact, and held-back ones get another chance."""

import psycopg

from sync_pipelines.store.people import allow_person_writes
from sync_pipelines_tests.activities.helpers import (
    fan_out,
    log_activity,
    salesforce_tasks_by_activity,
    states,
    sync_people,
)
from sync_pipelines.sandbox.activity_log import seed_activity_log


def _edit_person(conn: psycopg.Connection, marketo_id: int, **fields) -> None:
    """Change a person's row as the person sync does (it moves last_synced_at when a field changes)."""
    assignments = ", ".join(f"{name} = %({name})s" for name in fields)
    with conn.transaction():
        allow_person_writes(conn)
        conn.execute(f"UPDATE actions_person SET {assignments}, last_synced_at = now() WHERE marketo_id = %(id)s",
                     {**fields, "id": marketo_id})


def test_a_converted_leads_activities_land_on_its_contact(marketo_sandbox, salesforce_sandbox, database_url):
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 1, seed=2)  # the sellers
        person, lead_id = conn.execute(
            "SELECT marketo_id, salesforce_lead_id FROM actions_person WHERE salesforce_lead_id IS NOT NULL "
            "AND salesforce_contact_id IS NULL ORDER BY marketo_id LIMIT 1").fetchone()
        # Converted in Salesforce; Actions still knows only the Lead (the person sync has not brought
        # the Contact id in yet).
        contact_id = salesforce_sandbox.sandbox.convert_lead(lead_id)
        email = log_activity(conn, person, "Sales Email Sent", email_subject="Proposal", email_body="Hi")
        call = log_activity(conn, person, "Received Sales Call", call_outcome="Connected", call_status="completed")
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    sf = metadata["salesforce_activity_tasks"]
    assert sf["redirected_to_contact"] == 2 and sf["quarantined"] == 0
    tasks = salesforce_tasks_by_activity(salesforce_sandbox.sandbox)
    for activity_id in (email, call):
        (task,) = tasks[str(activity_id)]
        assert task["WhoId"] == contact_id
        assert states(database_url, "salesforce")[activity_id][0] == "delivered"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT contact_id FROM salesforce_converted_lead WHERE lead_id = %s",
                            (lead_id,)).fetchone() == (contact_id,)


def test_held_back_activities_are_retried_when_their_person_changes(
    marketo_sandbox, salesforce_sandbox, database_url
):
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 1, seed=2)
        (first, lead_a), (second, lead_b) = conn.execute(
            "SELECT marketo_id, salesforce_lead_id FROM actions_person WHERE salesforce_lead_id IS NOT NULL "
            "AND salesforce_contact_id IS NULL ORDER BY marketo_id LIMIT 2").fetchall()
        # One person has no Salesforce id yet, the other a Lead id Salesforce does not know.
        _edit_person(conn, first, salesforce_lead_id=None)
        _edit_person(conn, second, salesforce_lead_id="00Q000000000000AAA")
        skipped = log_activity(conn, first, "Received Sales Call", call_outcome="Connected")
        refused = log_activity(conn, second, "Received Sales Call", call_outcome="Connected")
    ok, _ = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    assert states(database_url, "salesforce")[skipped] == ("skipped", "no Salesforce lead or contact id")
    assert states(database_url, "salesforce")[refused][0] == "quarantined"

    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)  # nothing changed: nothing retried
    assert ok and metadata["salesforce_activity_tasks"]["requeued_after_person_change"] == 0

    with psycopg.connect(database_url, autocommit=True) as conn:  # the person sync brings the right ids
        _edit_person(conn, first, salesforce_lead_id=lead_a)
        _edit_person(conn, second, salesforce_lead_id=lead_b)
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    assert metadata["salesforce_activity_tasks"]["requeued_after_person_change"] == 2
    tasks = salesforce_tasks_by_activity(salesforce_sandbox.sandbox)
    assert [t["WhoId"] for t in tasks[str(skipped)]] == [lead_a]
    assert [t["WhoId"] for t in tasks[str(refused)]] == [lead_b]
