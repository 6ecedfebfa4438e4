"""The data engineer's path through the Dagster UI, in headless chromium.

Open the asset graph, materialize the people group with its "Materialize all" button, wait for the run
to succeed, and read the actions_people asset page: its metadata and its three checks. Screenshots go to
the git-ignored .sync_data/screenshots/; `make screenshots` runs this test with SYNC_SCREENSHOTS_DIR set
to docs/screenshots/ to refresh the README's pictures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from sync_pipelines.paths import PROJECT_ROOT
from sync_pipelines_tests.ui.webserver import DagsterWebserver

pytestmark = pytest.mark.timeout(300)

SCREENSHOTS = Path(os.environ.get("SYNC_SCREENSHOTS_DIR") or PROJECT_ROOT / ".sync_data" / "screenshots")
LOCATION = "sync_pipelines"
PEOPLE_ASSETS = {"marketo_person_extract", "sales_owned_people", "actions_people"}
ACTIONS_PEOPLE_CHECKS = ["marketo_ids_unique", "every_person_has_an_owner", "row_count_matches_qualified"]
RUN_TIMEOUT_SECONDS = 120.0
UI_TIMEOUT_MS = 20_000  # the UI loads data over GraphQL after the page itself
PAGE_VIEWPORT = {"width": 1600, "height": 1000}
GRAPH_VIEWPORT = {"width": 2000, "height": 1500}  # wide enough that the zoomed-to-fit graph keeps its labels


def test_materialize_the_people_group_from_the_ui(browser, webserver: DagsterWebserver, database_url: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PAGE_VIEWPORT)
    page = context.new_page()
    try:
        show_the_asset_graph(page, webserver.url)
        page.screenshot(path=SCREENSHOTS / "asset-graph.png")
        page.set_viewport_size(PAGE_VIEWPORT)

        assert webserver.runs() == [], "no run may exist before the button is pressed"
        page.goto(f"{webserver.url}/locations/{LOCATION}/asset-groups/people")
        page.get_by_role("button", name="Materialize all").click()
        run = wait_for_finished_run(webserver)
        assert run["status"] == "SUCCESS", f"run {run['runId']} ended {run['status']}:\n{webserver.log_tail()}"
        assert {"/".join(key["path"]) for key in run["assetSelection"]} == PEOPLE_ASSETS

        page.goto(f"{webserver.url}/runs/{run['runId']}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOTS / "run-success.png")

        people_in_actions = count_actions_people(database_url)
        assert people_in_actions > 0
        page.goto(f"{webserver.url}/assets/actions_people")
        # The first run inserts everyone: the page shows the same numbers the database holds.
        expect(metadata_value(page, "inserted")).to_have_text(str(people_in_actions), timeout=UI_TIMEOUT_MS)
        expect(metadata_value(page, "actions_people")).to_have_text(str(people_in_actions))
        expect(metadata_value(page, "removed")).to_have_text("0")
        # Let the rest of the page (automation details: job, sensor) load before the picture.
        expect(page.get_by_text("person_sync_job").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.get_by_text("marketo_person_change_sensor").first).to_be_visible(timeout=UI_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOTS / "actions-people-asset.png")

        page.goto(f"{webserver.url}/assets/actions_people?view=checks")
        for check in ACTIONS_PEOPLE_CHECKS:
            expect(page.get_by_text(check, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.get_by_text("Succeeded", exact=True)).to_have_count(len(ACTIONS_PEOPLE_CHECKS))
        expect(page.get_by_text("Not Evaluated")).to_have_count(0)  # the run evaluated all three
        page.screenshot(path=SCREENSHOTS / "actions-people-checks.png")
    except Exception:
        page.screenshot(path=Path(webserver.home) / "failure.png")  # kept in the test's tmp_path
        raise
    finally:
        context.close()


def show_the_asset_graph(page: Page, base_url: str) -> None:
    """Global lineage, every group expanded, zoomed to fit a tall window, asset tree folded away."""
    page.set_viewport_size(GRAPH_VIEWPORT)
    page.goto(f"{base_url}/asset-groups")
    dismiss_community_dialog(page)
    page.get_by_role("button", name="settings", exact=True).click()  # the graph's own settings menu
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    page.reload()  # the expanded layout is remembered; a fresh load zooms it to fit the window
    page.get_by_role("button", name="panel_show_right", exact=True).click()  # fold the asset tree: more room
    for asset in PEOPLE_ASSETS:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Loading", exact=False)).to_have_count(0, timeout=UI_TIMEOUT_MS)
    page.mouse.move(0, 0)  # no hover highlight in the picture


def dismiss_community_dialog(page: Page) -> None:
    """A fresh browser profile gets Dagster's 'Join the community' dialog once; skip it."""
    try:
        page.get_by_role("button", name="Skip").click(timeout=10_000)
    except PlaywrightTimeout:
        pass  # not shown by this version or profile


def metadata_value(page: Page, key: str):
    """The value cell (the last column) of the asset page's metadata row whose key is exactly `key`."""
    return page.locator("tr").filter(has=page.get_by_text(key, exact=True)).locator("td").last


def wait_for_finished_run(webserver: DagsterWebserver) -> dict:
    """The one run the button launched, once it has finished (polled through the GraphQL API)."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = webserver.runs()
        if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            assert len(runs) == 1, f"the button launched {len(runs)} runs"
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"no finished run after {RUN_TIMEOUT_SECONDS:.0f} s: {runs}\n{webserver.log_tail()}")


def count_actions_people(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM actions_person").fetchone()[0]
