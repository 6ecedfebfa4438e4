"""salesforce_unsubscribes end to end: Salesforce emulator over loopback HTTPS <-> a real PostgreSQL."""

from datetime import timedelta

import psycopg

from sync_pipelines.actions_app import record_opt_out, record_resubscribe
from sync_pipelines.unsubscribes import check_send
from sync_pipelines_tests.unsubscribes.helpers import fetch, load_actions_people, person, run_unsubscribe_sync


def sf_opted_out(running, sobject: str, record_id: str) -> bool:
    return running.sandbox.get(sobject, record_id)["HasOptedOutOfEmail"]


def actions_state(database_url, marketo_id):
    rows = fetch(database_url, "SELECT opted_out, source FROM actions_unsubscribe WHERE marketo_id = %s", (marketo_id,))
    return rows[0] if rows else None


def test_first_sync_brings_salesforce_opt_outs_to_actions_and_a_rerun_writes_nothing(
        salesforce_sandbox, database_url):
    load_actions_people(database_url)
    seeded_opt_outs = {
        r["Id"] for sobject in ("Contact", "Lead") for r in salesforce_sandbox.sandbox.records(sobject)
        if r["HasOptedOutOfEmail"]
    }
    first = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    opted = fetch(database_url, "SELECT u.marketo_id, s.salesforce_id FROM actions_unsubscribe u "
                                "JOIN salesforce_unsubscribe_state s USING (marketo_id) WHERE u.opted_out")
    assert opted and {record for _, record in opted} <= seeded_opt_outs
    assert first["opt_outs_to_actions"] == len(opted)
    assert first["salesforce_records_written"] == 0
    assert first["quarantined"] == 0
    assert fetch(database_url, "SELECT count(*) FROM unsubscribe_sync_cursor")[0][0] == 2

    writes_before = salesforce_sandbox.sandbox.calls_by_path.copy()
    second = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert second["opt_outs_to_actions"] == second["salesforce_records_written"] == 0
    new_calls = salesforce_sandbox.sandbox.calls_by_path - writes_before
    assert not any("composite/sobjects" in path for path in new_calls)


def test_an_actions_opt_out_reaches_the_contact_or_else_the_lead(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    contact_person, contact_id = person(database_url, "Contact")
    lead_person, lead_id = person(database_url, "Lead")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, contact_person, salesforce_clock.advance(minutes=1))
        record_opt_out(conn, lead_person, salesforce_clock.current)
    salesforce_clock.advance(minutes=1)

    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    assert sf_opted_out(salesforce_sandbox, "Contact", contact_id)
    assert sf_opted_out(salesforce_sandbox, "Lead", lead_id)
    assert metadata["opt_outs_to_salesforce"] == 2
    assert check_send(psycopg.connect(database_url), contact_person).reasons == ["actions_opt_out", "salesforce_opt_out"]
    # The write echoes back as a Salesforce change: recognised, nothing travels again.
    salesforce_clock.advance(minutes=1)
    again = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert again["salesforce_records_written"] == again["opt_outs_to_actions"] == 0


def test_a_salesforce_opt_out_reaches_actions_and_blocks_sending(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    marketo_id, contact_id = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        assert check_send(conn, marketo_id).allowed

    salesforce_clock.advance(minutes=5)
    salesforce_sandbox.sandbox.update("Contact", contact_id, HasOptedOutOfEmail=True)
    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    assert actions_state(database_url, marketo_id) == (True, "salesforce")
    assert metadata["opt_outs_to_actions"] == 1
    assert metadata["salesforce_changes_read"] >= 1
    with psycopg.connect(database_url) as conn:
        decision = check_send(conn, marketo_id)
    assert not decision.allowed and decision.reasons == ["salesforce_opt_out"]


def test_a_newer_resubscribe_travels_both_ways(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    a_person, a_contact = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, a_person, salesforce_clock.advance(minutes=1))
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    assert sf_opted_out(salesforce_sandbox, "Contact", a_contact)

    # Actions re-subscribes later than Salesforce's opt-out: Salesforce follows.
    with psycopg.connect(database_url) as conn:
        record_resubscribe(conn, a_person, salesforce_clock.advance(minutes=10))
    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert not sf_opted_out(salesforce_sandbox, "Contact", a_contact)
    assert metadata["resubscribes_to_salesforce"] == 1

    # Salesforce opts out, then (after a sync) re-subscribes: Actions follows both.
    salesforce_clock.advance(minutes=10)
    salesforce_sandbox.sandbox.update("Contact", a_contact, HasOptedOutOfEmail=True)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    assert actions_state(database_url, a_person) == (True, "salesforce")
    salesforce_clock.advance(minutes=10)
    salesforce_sandbox.sandbox.update("Contact", a_contact, HasOptedOutOfEmail=False)
    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert actions_state(database_url, a_person) == (False, "salesforce")
    assert metadata["resubscribes_to_actions"] == 1
    with psycopg.connect(database_url) as conn:
        assert check_send(conn, a_person).allowed


def test_a_salesforce_resubscribe_older_than_an_actions_opt_out_is_a_conflict_and_the_opt_out_stays(
        salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    marketo_id, contact_id = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, marketo_id, salesforce_clock.advance(minutes=1))
    run_unsubscribe_sync(salesforce_sandbox, database_url)

    # A Salesforce user re-subscribes at 10 min; the person asks Actions to stop emailing at 15 min.
    salesforce_clock.advance(minutes=10)
    salesforce_sandbox.sandbox.update("Contact", contact_id, HasOptedOutOfEmail=False)
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, marketo_id, salesforce_clock.advance(minutes=5))
    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    assert metadata["conflicts_opt_out_kept"] == 1
    assert sf_opted_out(salesforce_sandbox, "Contact", contact_id)  # the opt-out is written back
    assert actions_state(database_url, marketo_id)[0] is True
    conflicts = fetch(database_url, "SELECT source, opted_out FROM unsubscribe_event "
                                    "WHERE marketo_id = %s AND outcome = 'conflict_opt_out_kept'", (marketo_id,))
    assert conflicts == [("salesforce", False)]
    # Stable afterwards: no conflict is recorded twice, nothing more is written.
    salesforce_clock.advance(minutes=1)
    again = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]
    assert again["conflicts_opt_out_kept"] == again["salesforce_records_written"] == 0


def test_an_actions_resubscribe_older_than_the_salesforce_opt_out_is_a_conflict(
        salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    marketo_id, contact_id = person(database_url, "Contact")
    # Actions holds a re-subscribe from 1 hour ago; Salesforce opted the contact out since then.
    with psycopg.connect(database_url) as conn:
        record_resubscribe(conn, marketo_id, salesforce_clock.current - timedelta(hours=1))
    salesforce_sandbox.sandbox.update("Contact", contact_id, HasOptedOutOfEmail=True)
    salesforce_clock.advance(minutes=1)

    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    assert metadata["conflicts_opt_out_kept"] == 1
    assert actions_state(database_url, marketo_id) == (True, "salesforce")
    assert sf_opted_out(salesforce_sandbox, "Contact", contact_id)


def test_people_that_cannot_sync_are_quarantined_with_a_reason(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    marketo_id, contact_id = person(database_url, "Contact")
    salesforce_sandbox.sandbox.delete("Contact", contact_id)
    salesforce_clock.advance(minutes=1)

    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)["salesforce_unsubscribes"]

    assert metadata["quarantined"] == 1
    assert fetch(database_url, "SELECT marketo_id, reason FROM unsubscribe_quarantine") == [
        (marketo_id, "Salesforce record not found (deleted or not visible)")]
