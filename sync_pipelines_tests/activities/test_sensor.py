"""actions_activity_sensor: run requests keyed by id range, the cursor, the high-water-mark observation."""

import dagster as dg
import pandas as pd
import psycopg
import pytest

from sync_pipelines import actions_app
from sync_pipelines import activities, people
from sync_pipelines.activities.log_cursor import LogCursor
from sync_pipelines.sandbox.activity_log import generate_activities, sellers_for_owners
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store import activities as store
from sync_pipelines.store.activities import ACTIVITY_LOG_COLUMNS
from sync_pipelines.store.sync_control import NOT_STARTED, start_sync


@pytest.fixture(autouse=True)
def sync_started(database_url):
    """The admin's "initiate data sync": the sensor follows the log from then on."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        start_sync(conn)


def _log(database_url, count: int, seed: int) -> None:
    people_frame = pd.DataFrame({"marketo_id": [1001, 1002, 1003], "owner_id": ["005A", "005A", "005B"],
                                 "company": ["Acme", None, "Globex"]})
    sellers = sellers_for_owners(["005A", "005B"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        actions_app.write_sellers(conn, sellers)
        actions_app.write_activities(conn, generate_activities(people_frame, sellers, count, seed))


def _tick(database_url, cursor):
    with dg.build_sensor_context(cursor=cursor, resources={"actions_db": ActionsDatabase(url=database_url)}) as context:
        return activities.actions_activity_sensor(context)


def test_sensor_requests_one_run_per_new_range_and_advances_the_cursor(database_url):
    empty = _tick(database_url, None)
    assert not empty.run_requests and LogCursor.parse(empty.cursor) == LogCursor(high=0)

    _log(database_url, 12, seed=3)
    first = _tick(database_url, empty.cursor)
    assert [r.run_key for r in first.run_requests] == ["activities-1-12"]
    assert LogCursor.parse(first.cursor) == LogCursor(high=12)
    (observation,) = first.asset_events
    assert observation.asset_key == dg.AssetKey("actions_sales_activities")
    assert observation.metadata["high_water_mark"].value == 12
    # The external log's table metadata rides on the observation.
    assert observation.metadata["dagster/row_count"].value == 12
    assert [c.name for c in observation.metadata["dagster/column_schema"].schema.columns] == ACTIVITY_LOG_COLUMNS

    quiet = _tick(database_url, first.cursor)
    assert not quiet.run_requests and LogCursor.parse(quiet.cursor) == LogCursor(high=12)

    _log(database_url, 5, seed=4)
    second = _tick(database_url, quiet.cursor)
    assert [r.run_key for r in second.run_requests] == ["activities-13-17"]
    assert LogCursor.parse(second.cursor).high == 17
    # A replayed tick from the same cursor asks for the same run (Dagster dedupes it by run_key).
    assert [r.run_key for r in _tick(database_url, quiet.cursor).run_requests] == ["activities-13-17"]


def test_a_lower_id_committed_after_a_higher_one_is_picked_up_on_the_next_tick(database_url):
    """Two interleaved transactions: A takes id 1, B takes id 2 and commits first; the sensor sees 2.
    When A commits, the next tick requests a run for id 1 (following the highest id alone never would)."""
    start = _tick(database_url, None)  # (migrates the new database)
    _log(database_url, 0, seed=1)  # the sellers
    row = {"marketo_id": 1001, "activity_type": "Sales Email Opened", "seller_id": "seller-001",
           "occurred_at": "2026-06-30T12:00:00Z", "email_subject": "Hi"}
    insert = ("INSERT INTO actions_sales_activity (marketo_id, activity_type, seller_id, occurred_at, email_subject) "
              "VALUES (%(marketo_id)s, %(activity_type)s, %(seller_id)s, %(occurred_at)s, %(email_subject)s) "
              "RETURNING activity_id")
    with psycopg.connect(database_url) as a, psycopg.connect(database_url) as b:
        (id_a,) = a.execute(insert, row).fetchone()
        (id_b,) = b.execute(insert, row).fetchone()
        assert id_a < id_b
        b.commit()
        seen_b = _tick(database_url, start.cursor)
        assert [r.run_key for r in seen_b.run_requests] == [f"activities-1-{id_b}"]
        assert LogCursor.parse(seen_b.cursor).high == id_b
        quiet = _tick(database_url, seen_b.cursor)
        assert not quiet.run_requests  # A is still open: nothing new to see
        a.commit()
    late = _tick(database_url, quiet.cursor)
    assert [r.run_key for r in late.run_requests] == [f"activities-late-{id_a}-{id_a}-1"]
    assert late.run_requests[0].tags["sync_pipelines/activity_ids"] == f"late-{id_a}-{id_a}-1"
    assert LogCursor.parse(late.cursor) == LogCursor(high=id_b)  # the gap is closed
    assert not _tick(database_url, late.cursor).run_requests
    # A replayed tick from the same cursor asks for the same run.
    assert [r.run_key for r in _tick(database_url, quiet.cursor).run_requests] == [r.run_key for r in late.run_requests]


def test_activity_definitions_resolve_with_the_rest_of_the_code_location():
    from sync_pipelines.resources import shared_resources

    defs = dg.Definitions.merge(people.defs, activities.defs, dg.Definitions(resources=shared_resources()))
    repository = defs.get_repository_def()
    job = repository.get_job("activity_fanout_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == {
        "marketo_sales_activity_types", "marketo_sales_activities", "salesforce_activity_tasks"}
    assert repository.get_sensor_def("actions_activity_sensor").job_name == "activity_fanout_job"
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for name in ("actions_sales_activities", "marketo_sales_activity_types", "marketo_sales_activities",
                 "salesforce_activity_tasks"):
        assert specs[name].group_name == "activities" and specs[name].description
    assert dg.AssetKey("actions_sales_activities") in {d.asset_key for d in specs["marketo_sales_activities"].deps}


def test_the_sensor_waits_for_the_sync_to_start_and_then_delivers_what_was_logged_before(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE sync_control SET started_at = NULL")
    _log(database_url, 4, seed=5)
    waiting = _tick(database_url, None)
    assert not waiting.run_requests and waiting.skip_reason and waiting.skip_reason.skip_message == NOT_STARTED
    assert waiting.cursor is None  # nothing was followed: the first tick after the start sees everything

    with psycopg.connect(database_url, autocommit=True) as conn:
        start_sync(conn)
    started = _tick(database_url, waiting.cursor)
    assert [r.run_key for r in started.run_requests] == ["activities-1-4"]
