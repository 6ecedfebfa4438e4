"""A dry run launched through the webserver (the launchpad's GraphQL launch, with the run tag
sync_pipelines/dry_run=true and the Celery executor's config) on a code location with SYNC_EXECUTOR=celery and
two Celery workers: the dry run of one asset (without its checks) runs on a worker, writes nothing, and
shows as dry; the whole person_sync_job is refused before any step. Screenshots: the runs list and both runs' pages.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from sync_pipelines.dry_run import DRY_RUN_TAG
from sync_pipelines_tests.distributed.harness import Deployment, actions_end_state, broker_problem, served_emulators
from sync_pipelines_tests.ui.test_ui_end_to_end import (
    PAGE_VIEWPORT,
    SCREENSHOTS,
    UI_TIMEOUT_MS,
    dismiss_community_dialog,
)
from sync_pipelines_tests.ui.webserver import DagsterWebserver

_BROKER_PROBLEM = broker_problem()
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(_BROKER_PROBLEM is not None, reason=f"Celery UI test skipped: {_BROKER_PROBLEM}")]

DRY = {DRY_RUN_TAG: "true"}
RUN_TIMEOUT_SECONDS = 180.0
MARKETO_WRITES = ("/rest/v1/leads.json", "/rest/v1/activities/external.json", "/rest/v1/activities/external/type.json")


def test_a_dry_run_through_celery_launched_from_the_ui(browser, tmp_path, database_url, dagster_storage_url):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with served_emulators() as (marketo, _, services):
        deployment = Deployment.create(tmp_path / "celery", dagster_storage_url=dagster_storage_url,
                                       database_url=database_url, services=services)
        server = DagsterWebserver(tmp_path / "webserver", {**deployment.env, "SYNC_EXECUTOR": "celery"})
        try:
            with deployment.celery_workers(2):
                server.wait_until_loaded()
                before = actions_end_state(database_url)
                celery = deployment.celery_run_config()
                # Without its checks: a check is a step of its own, which would read the committed data.
                one_asset = server.launch_assets("marketo_person_extract", tags=DRY, run_config=celery,
                                                 with_checks=False)
                whole_job = server.launch("person_sync_job", tags=DRY, run_config=celery)
                ended = {run_id: wait_until_ended(server, run_id) for run_id in (one_asset, whole_job)}
                assert ended[one_asset]["status"] == "SUCCESS", server.log_tail()
                assert ended[whole_job]["status"] == "FAILURE"
                assert {"key": DRY_RUN_TAG, "value": "true"} in ended[one_asset]["tags"]
                assert actions_end_state(database_url) == before, "the dry runs committed nothing"
                assert not set(MARKETO_WRITES) & set(marketo.sandbox.calls_by_path), "nothing written to Marketo"
                assert sum(marketo.sandbox.calls_by_path.values()) > 0  # the dry extract did read Marketo
                assert "succeeded in" in "".join(path.read_text() for path in deployment.home.glob("*-worker-*.log"))
                screenshots(browser, server, one_asset, whole_job)
        finally:
            server.stop()


def screenshots(browser, server: DagsterWebserver, one_asset: str, whole_job: str) -> None:
    """The runs list (both dry runs with their tag), the dry run's page (its materialization's dry_run: true),
    the refused run's page (the refusal)."""
    page = browser.new_context(viewport=PAGE_VIEWPORT).new_page()
    page.goto(f"{server.url}/runs")
    dismiss_community_dialog(page)
    expect(page.get_by_text(DRY_RUN_TAG).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOTS / "dry-run-celery-runs.png")

    page.goto(f"{server.url}/runs/{one_asset}")
    expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("dry_run", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)  # its metadata
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOTS / "dry-run-celery-run.png")

    page.goto(f"{server.url}/runs/{whole_job}")
    expect(page.get_by_text("Refused before any step started").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOTS / "dry-run-celery-refused.png")
    page.context.close()


def wait_until_ended(server: DagsterWebserver, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = server.run(run_id)
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end in {RUN_TIMEOUT_SECONDS:.0f} s:\n{server.log_tail()}")
