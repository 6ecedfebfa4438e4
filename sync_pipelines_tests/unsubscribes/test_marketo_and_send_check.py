"""Marketo's side: the send check follows a Marketo unsubscribe within one sync, and nothing about
unsubscribes is ever written to Marketo. Person sync and unsubscribe sync run against both emulators."""

import dagster as dg
import psycopg

from sync_pipelines import people
from sync_pipelines.people.jobs import incremental_run_config
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.actions_app import record_opt_out
from sync_pipelines.unsubscribes import check_send
from sync_pipelines_tests.fixtures.marketo import marketo_resource
from sync_pipelines_tests.unsubscribes.helpers import SEED, SIZE, fetch, person, run_unsubscribe_sync

PERSON_ASSETS = people.ASSETS
# Every Marketo REST path that changes data (leads, lists, programs, activities). GET /rest/v1/leads.json
# is also served by POST with _method=GET, so the test also asserts the unsubscribe sync calls nothing.
MARKETO_WRITE_PATHS = {
    "/rest/v1/leads/push.json", "/rest/v1/leads/delete.json", "/rest/v1/leads/merge.json",
    "/rest/v1/leads/unsubscribe.json", "/rest/v1/activities/external.json", "/rest/v1/customobjects",
    "/rest/v1/lists", "/rest/v1/programs", "/rest/v1/leads/programs",
}


def person_sync(marketo, database_url, run_config=None):
    resources = {"marketo": marketo_resource(marketo), "actions_db": ActionsDatabase(url=database_url)}
    assert dg.materialize(PERSON_ASSETS, resources=resources, run_config=run_config).success


def test_the_send_check_blocks_a_marketo_unsubscribe_within_one_sync_and_marketo_receives_nothing(
        make_marketo_sandbox, salesforce_sandbox, salesforce_clock, database_url):
    marketo = make_marketo_sandbox(seed=SEED, size=SIZE)  # the same people as the Salesforce org
    person_sync(marketo, database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    marketo_id, _ = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        assert check_send(conn, marketo_id).allowed

    # Unsubscribed in Marketo; the change sensor's incremental person sync refreshes the extract.
    marketo.sandbox.update_lead(marketo_id, unsubscribed=True)
    person_sync(marketo, database_url, incremental_run_config([marketo_id]))
    with psycopg.connect(database_url) as conn:  # the view already reads the refreshed extract
        assert check_send(conn, marketo_id).reasons == ["marketo_unsubscribed"]
    leads_before = marketo.sandbox.leads().set_index("id")[["unsubscribed"]].copy()
    calls_before = dict(marketo.sandbox.calls_by_path)

    # An Actions opt-out of someone else in the same sync: it must reach Salesforce, not Marketo.
    other_id, other_contact = person(database_url, "Lead")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, other_id, salesforce_clock.advance(minutes=1))
    metadata = run_unsubscribe_sync(salesforce_sandbox, database_url)

    with psycopg.connect(database_url) as conn:
        decision = check_send(conn, marketo_id)
    assert not decision.allowed
    assert decision.reasons == ["marketo_unsubscribed"]
    assert metadata["marketo_unsubscribe_status"]["newly_unsubscribed"] == 1

    # The Marketo check is a setting: a seller who turned it off may email the person; others may not.
    from sync_pipelines.actions_app import record_setting_change
    with psycopg.connect(database_url) as conn:
        for seller in ("checks", "skips"):
            conn.execute("INSERT INTO actions_seller (seller_id, display_name, email) VALUES (%s, %s, %s)",
                         (seller, seller, f"{seller}@example.test"))
        record_setting_change(conn, "marketo_unsubscribe_check", False, seller_id="skips")
        conn.commit()
        assert check_send(conn, marketo_id, seller_id="skips").allowed
        assert check_send(conn, marketo_id, seller_id="checks").reasons == ["marketo_unsubscribed"]
    rerun = run_unsubscribe_sync(salesforce_sandbox, database_url)
    assert rerun["marketo_unsubscribe_status"]["marketo_unsubscribe_check_org"] == "on"
    assert rerun["marketo_unsubscribe_status"]["sellers_with_marketo_unsubscribe_check_off"] == 1
    assert fetch(database_url, "SELECT unsubscribed FROM marketo_unsubscribe_status WHERE marketo_id = %s",
                 (marketo_id,)) == [(True,)]

    # Marketo: the unsubscribe sync made no call at all, no write endpoint was ever called, and
    # Marketo's unsubscribed flags are exactly as before (the Actions opt-out did not travel there).
    assert dict(marketo.sandbox.calls_by_path) == calls_before
    assert not set(calls_before) & MARKETO_WRITE_PATHS
    assert not any(path.startswith(prefix) for path in calls_before for prefix in MARKETO_WRITE_PATHS)
    assert marketo.sandbox.leads().set_index("id")[["unsubscribed"]].equals(leads_before)
    assert salesforce_sandbox.sandbox.get("Lead", other_contact)["HasOptedOutOfEmail"]


def test_the_send_check_explains_every_reason(salesforce_sandbox, database_url):
    from sync_pipelines_tests.unsubscribes.helpers import load_actions_people

    load_actions_people(database_url)
    marketo_id, _ = person(database_url, "Contact")
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE marketo_person_extract SET unsubscribed = true, email_invalid = true "
                     "WHERE marketo_id = %s", (marketo_id,))
        conn.execute("SELECT set_config('sync_pipelines.writer', 'person_sync', true)")
        conn.execute("UPDATE actions_person SET email = NULL WHERE marketo_id = %s", (marketo_id,))
        conn.commit()
        record_opt_out(conn, marketo_id, conn.execute("SELECT now()").fetchone()[0])
        decision = check_send(conn, marketo_id)
        assert not decision.allowed
        assert decision.reasons == ["marketo_unsubscribed", "actions_opt_out", "no_email", "hard_bounce"]
        assert check_send(conn, 999_999_999).reasons == ["not_in_actions"]
