"""The Marketo pool limits runs launched from the UI: with one slot, a second run's step waits for it.

Two materializations of marketo_person_extract are launched through the webserver's GraphQL API, as the
UI's Materialize button launches them (no tags, no job of ours: the ad-hoc asset job). The test holds the
extract writer's advisory lock, so the first run's step keeps its pool slot until the test lets it go.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from sync_pipelines.store.people import _LOCK_NAMESPACE as PERSON_LOCKS
from sync_pipelines_tests.ui.webserver import DagsterWebserver

pytestmark = pytest.mark.timeout(300)

WAIT_SECONDS = 120.0
EXTRACT_WRITER_LOCK = 1  # store.people: one extract writer at a time

_POOL = """query { instance { concurrencyLimit(concurrencyKey: "marketo") {
  slotCount activeRunIds pendingStepRunIds } } }"""


def test_a_second_ui_run_waits_for_the_marketo_pool(webserver: DagsterWebserver, database_url: str):
    set_limit = webserver.graphql('mutation { setConcurrencyLimit(concurrencyKey: "marketo", limit: 1) }')
    assert set_limit["setConcurrencyLimit"] is True

    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (PERSON_LOCKS, EXTRACT_WRITER_LOCK))
        first = webserver.launch_assets("marketo_person_extract")
        wait_for(lambda: first in pool(webserver)["activeRunIds"], "the first run to take the marketo slot", webserver)

        second = webserver.launch_assets("marketo_person_extract")
        wait_for(lambda: second in pool(webserver)["pendingStepRunIds"], "the second run's step to wait", webserver)
        state = pool(webserver)
        assert state["slotCount"] == 1
        assert state["activeRunIds"] == [first], "only the first run may hold the slot"
        assert webserver.run(second)["status"] == "STARTED"  # launched at once, its step waiting in the pool
        holder.execute("SELECT pg_advisory_unlock(%s, %s)", (PERSON_LOCKS, EXTRACT_WRITER_LOCK))

    runs = {run_id: wait_for(lambda r=run_id: finished(webserver, r), f"run {run_id} to end", webserver)
            for run_id in (first, second)}
    assert {run["status"] for run in runs.values()} == {"SUCCESS"}, runs
    first_step, second_step = (runs[r]["stepStats"][0] for r in (first, second))
    assert second_step["startTime"] >= first_step["endTime"], "the second step ran while the first held the slot"


def pool(webserver: DagsterWebserver) -> dict:
    return webserver.graphql(_POOL)["instance"]["concurrencyLimit"]


def finished(webserver: DagsterWebserver, run_id: str) -> dict | None:
    run = webserver.run(run_id)
    return run if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None


def wait_for(condition, what: str, webserver: DagsterWebserver):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{webserver.log_tail()}")
