"""A dry run of the unsubscribe sync changes nothing in PostgreSQL or Salesforce, and reports the counts of
the real run right after it."""

import dagster as dg
import psycopg

from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.actions_app import record_opt_out
from sync_pipelines.unsubscribes import assets as unsubscribe_assets
from sync_pipelines_tests.unsubscribes.helpers import load_actions_people, person, salesforce_resource
from sync_pipelines_tests.fixtures.database import table_snapshot

ASSETS = [unsubscribe_assets.salesforce_unsubscribes, unsubscribe_assets.marketo_unsubscribe_status]
DRY_RUN = {DRY_RUN_TAG: "true"}
# What differs between a dry and a real run by design: the flag itself, the calls it did not make, timing.
NOT_COMPARED = {"dry_run", "salesforce_api_calls", "duration_seconds"}
TABLES = ("actions_unsubscribe", "unsubscribe_event", "salesforce_unsubscribe_state", "unsubscribe_sync_cursor",
          "unsubscribe_quarantine", "marketo_unsubscribe_status")


def database_snapshot(database_url) -> dict:
    return table_snapshot(database_url, TABLES)


def salesforce_snapshot(running) -> dict:
    sandbox = running.sandbox
    # The REST write endpoints (sObject Collections and single records); the sync reads through SOQL queries.
    writes = {path: count for path, count in sandbox.calls_by_path.items()
              if "/composite/" in path or "/sobjects/" in path}
    return {"records": [sandbox.records(sobject) for sobject in ("Contact", "Lead")], "write_calls": writes}


def sync(running, database_url, tags=None) -> dict[str, dict]:
    result = dg.materialize(ASSETS, tags=tags, resources={
        "salesforce": salesforce_resource(running), "actions_db": ActionsDatabase(url=database_url)})
    assert result.success
    for event in result.get_asset_materialization_events():  # a dry run's results are labelled dry
        assert event.materialization.tags.get(DRY_RUN_TAG) == ("true" if tags else None)
        assert event.materialization.metadata["dry_run"].value is bool(tags)
    return {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()
                                           if k not in NOT_COMPARED}
        for event in result.get_asset_materialization_events()
    }


def dry_then_real(running, database_url) -> dict[str, dict]:
    """Dry run (asserting it changed nothing anywhere), then the real run with the same counts; returns them."""
    before = database_snapshot(database_url), salesforce_snapshot(running)
    dry = sync(running, database_url, DRY_RUN)
    assert (database_snapshot(database_url), salesforce_snapshot(running)) == before, "nothing written anywhere"
    real = sync(running, database_url)
    assert dry == real
    return real


def test_dry_run_writes_nothing_and_predicts_the_real_run(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    # The first sync: Salesforce's seeded opt-outs reach Actions; every Actions person gets a Marketo status.
    first = dry_then_real(salesforce_sandbox, database_url)
    assert first["salesforce_unsubscribes"]["opt_outs_to_actions"] > 0
    assert first["marketo_unsubscribe_status"]["rows_changed"] > 0

    # Then changes on every side: two Actions opt-outs (to a Contact and a Lead), a Salesforce opt-out and
    # a Marketo unsubscribe brought in by the person sync.
    contact_person, _ = person(database_url, "Contact")
    lead_person, _ = person(database_url, "Lead")
    with psycopg.connect(database_url) as conn:
        record_opt_out(conn, contact_person, salesforce_clock.advance(minutes=1))
        record_opt_out(conn, lead_person, salesforce_clock.current)
        other_person, other_contact = conn.execute(
            "SELECT p.marketo_id, p.salesforce_contact_id FROM actions_person p LEFT JOIN actions_unsubscribe u "
            "USING (marketo_id) WHERE p.salesforce_contact_id IS NOT NULL AND u.marketo_id IS NULL "
            "AND p.marketo_id <> %s ORDER BY p.marketo_id LIMIT 1", (contact_person,)).fetchone()
        conn.execute("UPDATE marketo_person_extract SET unsubscribed = true WHERE marketo_id = "
                     "(SELECT e.marketo_id FROM marketo_person_extract e JOIN actions_person USING (marketo_id) "
                     "WHERE NOT e.unsubscribed ORDER BY e.marketo_id LIMIT 1)")
    salesforce_clock.advance(minutes=1)
    salesforce_sandbox.sandbox.update("Contact", other_contact, HasOptedOutOfEmail=True)
    salesforce_clock.advance(minutes=1)

    changes = dry_then_real(salesforce_sandbox, database_url)
    assert changes["salesforce_unsubscribes"]["opt_outs_to_salesforce"] == 2
    assert changes["salesforce_unsubscribes"]["opt_outs_to_actions"] == 1
    sample = set(changes["salesforce_unsubscribes"]["sample_changed_marketo_ids"])
    assert {contact_person, lead_person, other_person} <= sample
    assert changes["marketo_unsubscribe_status"]["newly_unsubscribed"] == 1
