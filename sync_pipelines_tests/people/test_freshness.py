"""The freshness of actions_people and actions_tasks: windows derived from the change sensor's interval and
the task schedule's cron, and the change sensor's confirmation that actions_people is current."""

import types
from datetime import timedelta

import dagster as dg
import psycopg
import pytest

from sync_pipelines import people
from sync_pipelines.definitions import defs
from sync_pipelines.people import freshness
from sync_pipelines.people.jobs import person_sync_job
from sync_pipelines.people.sensors import marketo_person_change_sensor
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.tasks.freshness import RUN_MARGIN as TASK_RUN_MARGIN, TASK_SYNC_CRON, longest_gap
from sync_pipelines_tests.fixtures.marketo import marketo_resource

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"


def _window(asset: str) -> timedelta:
    spec = next(spec for spec in defs.resolve_all_asset_specs() if spec.key.to_user_string() == asset)
    return spec.freshness_policy.fail_window.to_timedelta()


def test_the_windows_follow_the_sensor_interval_and_the_task_cron():
    assert marketo_person_change_sensor.minimum_interval_seconds == freshness.CHANGE_SENSOR_INTERVAL.total_seconds()
    assert _window("actions_people") == freshness.CHANGE_SENSOR_INTERVAL + freshness.RUN_MARGIN
    # Confirmations keep a quiet asset inside its window: at most one interval past CONFIRM_AFTER.
    assert freshness.CONFIRM_AFTER + freshness.CHANGE_SENSOR_INTERVAL < _window("actions_people")
    assert _window("actions_tasks") == longest_gap(TASK_SYNC_CRON) + TASK_RUN_MARGIN
    assert longest_gap("*/10 * * * *") == timedelta(minutes=10)
    assert longest_gap("0 9 * * 1-5") == timedelta(days=3)  # Friday to Monday


def _person_sync(server, instance, database_url: str) -> dg.ExecuteInProcessResult:
    location = dg.Definitions(assets=people.ASSETS, jobs=[person_sync_job], resources={
        "marketo": marketo_resource(server), "actions_db": ActionsDatabase(url=database_url)})
    return location.resolve_job_def("person_sync_job").execute_in_process(instance=instance, raise_on_error=False)


def _tick(server, instance, cursor):
    resources = {"marketo": marketo_resource(server), "actions_db": ActionsDatabase()}
    with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as context:
        return marketo_person_change_sensor(context)


def _later(monkeypatch, instance, seconds: float) -> None:
    """The confirmation's clock, `seconds` after the newest actions_people materialization."""
    newest = instance.fetch_materializations(dg.AssetKey("actions_people"), limit=1).records[0].timestamp
    monkeypatch.setattr(freshness, "time", types.SimpleNamespace(time=lambda: newest + seconds))


@pytest.mark.usefixtures("started_database")
def test_a_quiet_tick_confirms_actions_people_only_when_due_and_after_a_successful_sync(
        marketo_sandbox, instance, database_url, monkeypatch):
    assert _person_sync(marketo_sandbox, instance, database_url).success
    cursor = _tick(marketo_sandbox, instance, None).cursor  # the first tick starts following
    due = freshness.CONFIRM_AFTER.total_seconds()

    quiet = _tick(marketo_sandbox, instance, cursor)
    assert not quiet.run_requests and not quiet.asset_events  # synced moments ago: nothing to confirm

    _later(monkeypatch, instance, due + 1)
    quiet = _tick(marketo_sandbox, instance, quiet.cursor)
    (confirmation,) = quiet.asset_events
    assert confirmation.asset_key == dg.AssetKey("actions_people") and not quiet.run_requests
    metadata = {key: value.value for key, value in confirmation.metadata.items()}
    with psycopg.connect(database_url) as conn:
        (people_now,) = conn.execute("SELECT count(*) FROM actions_person").fetchone()
    assert metadata["confirmed_unchanged"] is True and metadata["dagster/row_count"] == people_now > 0

    # A change in Marketo: a run is requested, and nothing is confirmed while it is due.
    leads = marketo_sandbox.sandbox.leads()
    owned = int(leads.loc[leads["sfdcLeadOwnerId"].notna(), "id"].min())
    marketo_sandbox.sandbox.update_lead(owned, title="Head of Freshness")
    changed = _tick(marketo_sandbox, instance, quiet.cursor)
    assert changed.run_requests and not changed.asset_events

    # The person sync fails: quiet ticks confirm nothing until one succeeds, so the asset turns late.
    failed = _person_sync(marketo_sandbox, instance, UNREACHABLE_DATABASE)
    assert not failed.success
    _later(monkeypatch, instance, due + 1)
    assert not _tick(marketo_sandbox, instance, changed.cursor).asset_events
