"""A dry run of the activity fan-out changes nothing in PostgreSQL, Marketo, Salesforce or SMTP, and reports
the counts of the real run right after it."""

import dagster as dg
import psycopg

from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines.activities.settings import ActivitySettings
from sync_pipelines_tests.activities.helpers import ACTIVITY_ASSETS, marketo_custom_activities, resources, sync_people
from sync_pipelines_tests.activities.test_settings_and_bcc import smtp_server  # noqa: F401 (a fixture)
from sync_pipelines_tests.fixtures.database import table_snapshot

WRITERS = ("marketo_sales_activity_types", "marketo_sales_activities", "salesforce_activity_tasks")
DRY_RUN = {DRY_RUN_TAG: "true"}
# What differs between a dry and a real run by design: the flag itself, the calls it did not make, timing.
NOT_COMPARED = {"dry_run", "marketo_api_calls", "salesforce_api_calls", "duration_seconds"}
ACTIVITY_TABLES = ("actions_sales_activity", "actions_seller", "activity_delivery")
MARKETO_WRITES = ("/rest/v1/activities/external.json", "/rest/v1/activities/external/type.json")


def database_snapshot(database_url) -> dict:
    return table_snapshot(database_url, ACTIVITY_TABLES)


def marketo_snapshot(marketo) -> dict:
    sandbox = marketo.sandbox
    writes = {path: count for path, count in sandbox.calls_by_path.items()
              if path in MARKETO_WRITES or path.endswith(("/attributes/create.json", "/approve.json"))}
    return {"types": sandbox.custom_activity_types.standard_json(), "activities": marketo_custom_activities(sandbox),
            "write_calls": writes}


def salesforce_snapshot(salesforce) -> dict:
    sandbox = salesforce.sandbox
    # The REST write endpoints (sObject Collections and single records); the sync reads through SOQL queries.
    writes = {path: count for path, count in sandbox.calls_by_path.items()
              if "/composite/" in path or "/sobjects/" in path}
    return {"tasks": sandbox.records("Task", include_deleted=True), "write_calls": writes}


def fan_out(marketo, salesforce, database_url, settings: ActivitySettings, tags=None) -> dict[str, dict]:
    """Materialize the activity assets (tags: DRY_RUN or none); returns {asset: metadata}."""
    result = dg.materialize(ACTIVITY_ASSETS, resources=resources(marketo, salesforce, database_url, settings),
                            tags=tags)
    assert result.success
    labels = {event.materialization.tags.get(DRY_RUN_TAG) for event in result.get_asset_materialization_events()}
    assert labels == {"true" if tags else None}
    return {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def compared(metadata: dict) -> dict:
    return {asset: {k: v for k, v in values.items() if k not in NOT_COMPARED} for asset, values in metadata.items()}


def dry_then_real(marketo, salesforce, database_url, settings: ActivitySettings) -> tuple[dict, dict]:
    """Dry run (asserting it changed nothing anywhere), then the real run; returns both runs' metadata."""
    before = (database_snapshot(database_url), marketo_snapshot(marketo), salesforce_snapshot(salesforce))
    dry = fan_out(marketo, salesforce, database_url, settings, tags=DRY_RUN)
    assert database_snapshot(database_url) == before[0], "nothing committed to PostgreSQL"
    assert marketo_snapshot(marketo) == before[1], "no Marketo write"
    assert salesforce_snapshot(salesforce) == before[2], "no Salesforce write"
    assert all(dry[name]["dry_run"] is True for name in WRITERS)

    real = fan_out(marketo, salesforce, database_url, settings)
    assert all(real[name]["dry_run"] is False for name in WRITERS)
    assert compared(dry) == compared(real)
    return dry, real


def test_dry_run_of_the_fan_out_writes_nothing_and_predicts_the_real_run(
    marketo_sandbox, salesforce_sandbox, database_url, smtp_server  # noqa: F811
):
    inbox, port = smtp_server
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 310)

    # On a fresh Marketo: the types do not exist yet, so the dry run also predicts their creation.
    dry, _ = dry_then_real(marketo_sandbox, salesforce_sandbox, database_url, ActivitySettings(smtp_port=port))
    assert dry["marketo_sales_activity_types"]["types_created"] == 8
    assert dry["marketo_sales_activities"]["delivered"] == 310 and dry["marketo_sales_activities"]["batches"] == 2
    assert dry["salesforce_activity_tasks"]["tasks_delivered"] > 0
    assert dry["marketo_sales_activities"]["sample_activity_ids"] == list(range(1, 11))

    # New activities with emails logged by BCC: the dry run opens no SMTP session, the real run mails them.
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 60, seed=2)
    dry, real = dry_then_real(marketo_sandbox, salesforce_sandbox, database_url,
                              ActivitySettings(email_logging_mode="bcc", smtp_port=port))
    assert dry["marketo_sales_activity_types"]["types_already_current"] == 8
    assert dry["marketo_sales_activities"]["delivered"] == 60
    mailed = dry["salesforce_activity_tasks"]["emails_mailed"]
    assert mailed > 0 and len(inbox.envelopes) == mailed, "mail from the real run only"
