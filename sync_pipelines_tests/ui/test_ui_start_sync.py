"""The README's "start the sync" step, followed as an admin would, and its result in the Dagster UI.

`python -m sync_pipelines.start_sync` against the webserver's Actions database; then, on the
person_batch_schedule page, the schedule's next tick is evaluated ("Preview tick result") and its run
launched, as the daemon does at each tick (the test runs no daemon). The run loads the first batch of
people; its page, tagged with the schedule, is saved as start-sync-first-batch.png (docs/screenshots/ with
`make screenshots`).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from sync_pipelines.paths import PROJECT_ROOT
from sync_pipelines_tests.ui.test_ui_end_to_end import (
    LOCATION,
    PAGE_VIEWPORT,
    SCREENSHOTS,
    UI_TIMEOUT_MS,
    count_actions_people,
    dismiss_community_dialog,
    wait_for_finished_run,
)
from sync_pipelines_tests.ui.webserver import DagsterWebserver

pytestmark = pytest.mark.timeout(300)


def test_start_the_sync_then_the_batch_schedule_loads_people(browser, webserver: DagsterWebserver, database_url: str):
    started = subprocess.run(
        [sys.executable, "-m", "sync_pipelines.start_sync"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "SYNC_ENV": "sandbox", "SYNC_DATABASE_URL": database_url}, check=True)
    assert "Data sync started." in started.stdout

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PAGE_VIEWPORT)
    page = context.new_page()
    schedule_page = f"{webserver.url}/locations/{LOCATION}/schedules/person_batch_schedule"
    try:
        page.goto(schedule_page)
        dismiss_community_dialog(page)
        page.get_by_role("button", name="Preview tick result").click()
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Launch all & commit tick result").click(timeout=UI_TIMEOUT_MS)
        run = wait_for_finished_run(webserver)
        assert run["status"] == "SUCCESS", f"run {run['runId']} ended {run['status']}:\n{webserver.log_tail()}"
        assert count_actions_people(database_url) > 0  # the first batch is in Actions

        tags = {tag["key"]: tag["value"] for tag in webserver.run(run["runId"])["tags"]}
        assert tags.get("dagster/schedule_name") == "person_batch_schedule"

        page.goto(f"{webserver.url}/runs/{run['runId']}")
        expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.get_by_text("row_count_matches_qualified").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOTS / "start-sync-first-batch.png")
    except Exception:
        page.screenshot(path=webserver.home / "failure.png")
        raise
    finally:
        context.close()
