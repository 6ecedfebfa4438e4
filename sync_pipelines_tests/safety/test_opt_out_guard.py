"""The mass-change guard on opt-outs: Salesforce re-subscribing people en masse (a wrong or fake org reads like
that) is refused before either side is written, until an operator allows it for the run."""

from __future__ import annotations

import dagster as dg

from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.unsubscribes.assets import salesforce_unsubscribes
from sync_pipelines_tests.fixtures.database import table_snapshot
from sync_pipelines_tests.unsubscribes.helpers import fetch, load_actions_people, run_unsubscribe_sync, salesforce_resource

TABLES = ["actions_unsubscribe", "salesforce_unsubscribe_state", "unsubscribe_event", "unsubscribe_sync_cursor"]


def _sync(running, database_url, **config) -> dg.ExecuteInProcessResult:
    # Tight limits: the seeded org has a handful of opt-outs, fewer than the default 10-row allowance.
    limits = {"max_removed_percent": 0.0, "min_removed_rows": 0, **config}
    return dg.materialize([salesforce_unsubscribes], raise_on_error=False,
                          run_config={"ops": {"salesforce_unsubscribes": {"config": limits}}},
                          resources={"salesforce": salesforce_resource(running),
                                     "actions_db": ActionsDatabase(url=database_url)})


def test_mass_resubscribes_are_refused_then_applied_by_override(salesforce_sandbox, salesforce_clock, database_url):
    load_actions_people(database_url)
    run_unsubscribe_sync(salesforce_sandbox, database_url)
    opted = fetch(database_url, "SELECT s.salesforce_id FROM actions_unsubscribe u "
                                "JOIN salesforce_unsubscribe_state s USING (marketo_id) WHERE u.opted_out")
    assert opted
    salesforce_clock.advance(minutes=10)
    for (record_id,) in opted:
        sobject = "Contact" if record_id.startswith("003") else "Lead"
        salesforce_sandbox.sandbox.update(sobject, record_id, HasOptedOutOfEmail=False)
    before = table_snapshot(database_url, TABLES)

    refused = _sync(salesforce_sandbox, database_url)
    assert not refused.success
    message = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data.error.message
    assert f"would remove {len(opted)} of" in message and "opt-outs" in message
    assert table_snapshot(database_url, TABLES) == before

    allowed = _sync(salesforce_sandbox, database_url, allow_mass_removal=True)
    assert allowed.success
    assert fetch(database_url, "SELECT count(*) FROM actions_unsubscribe WHERE opted_out")[0][0] == 0
