"""The lead describe check: an instance without one of the 11 synced fields (or the owner) stops the sync with
a message naming it; one without a support field (sfdcType, unsubscribed, emailInvalid, updatedAt) is synced
without it, saying so in the run's metadata and log."""

from datetime import datetime, timedelta, timezone

import dagster as dg

from sync_pipelines import people
from sync_pipelines.people.fields import OPTIONAL_FIELDS
from sync_pipelines.people.sensors import _read_lead_changes
from sync_pipelines_tests.reliability.helpers import fetch, materialization_metadata, resources


def _sync(served, database_url, run_config=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(people.ASSETS, resources=resources(database_url, marketo=served), run_config=run_config,
                          raise_on_error=False)


def test_a_missing_synced_field_stops_the_sync_naming_it(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(size=50, absent_lead_fields=("linkedInProfileURL", "sfdcLeadOwnerId", "updatedAt"))

    result = _sync(served, database_url)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "linkedInProfileURL" in message and "sfdcLeadOwnerId" in message
    assert "updatedAt" not in message  # a support field is not a reason to stop
    assert fetch(database_url, "SELECT count(*) FROM actions_person")[0][0] == 0


def test_missing_support_fields_do_not_stop_the_sync(make_marketo_sandbox, database_url):
    served = make_marketo_sandbox(size=200, absent_lead_fields=tuple(OPTIONAL_FIELDS))

    result = _sync(served, database_url)

    assert result.success
    metadata = materialization_metadata(result)
    assert sorted(metadata["marketo_person_extract"]["missing_support_fields"]) == sorted(OPTIONAL_FIELDS)
    (qualified,) = fetch(database_url, "SELECT count(*) FROM sales_owned_people")[0]
    assert qualified > 0
    assert fetch(database_url, "SELECT count(*) FROM actions_person")[0][0] == qualified
    # What the instance lacks is unknown, not guessed.
    assert fetch(database_url, "SELECT count(*) FROM marketo_person_extract WHERE unsubscribed IS NOT NULL"
                               " OR salesforce_type IS NOT NULL")[0][0] == 0

    # An incremental run for a few people, and the change feed, work without them too.
    ids = [row[0] for row in fetch(database_url, "SELECT marketo_id FROM actions_person ORDER BY 1 LIMIT 3")]
    config = {"ops": {"marketo_person_extract": {"config": {"marketo_ids": ids}},
                      "actions_people": {"config": {"marketo_ids": ids}}}}
    assert _sync(served, database_url, config).success
    with resources(database_url, marketo=served)["marketo"].client() as client:
        token = client.paging_token(datetime.now(timezone.utc) - timedelta(minutes=5))
        served.sandbox.update_lead(ids[0], firstName="Renamed")
        changed, next_token = _read_lead_changes(client, token)
    assert changed == {ids[0]} and next_token
