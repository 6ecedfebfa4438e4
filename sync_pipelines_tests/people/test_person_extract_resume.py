"""The full person extract by createdAt windows, with real export timing: where it starts, checkpoints,
resume after SIGKILL, and short transactions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import dagster as dg
import psycopg
import pytest

from sync_pipelines.people.assets import marketo_person_extract
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM
from sync_pipelines_tests.fixtures.database import scratch_database

# 18 months of people; each export job spends 0.3 s Queued and 0.3 s Processing (2 at a time).
SANDBOX = MarketoSandboxConfig(size=600, seed=11, window_seconds=2.0, calls_per_window=1000,
                               bulk_queued_seconds=0.3, bulk_processing_seconds=0.3)
EXTRACT_COLUMNS = ("marketo_id, first_name, last_name, salesforce_contact_id, salesforce_lead_id, company, title, "
                   "email, phone, linkedin_url, source, salesforce_type, owner_id, unsubscribed, email_invalid, "
                   "marketo_updated_at")


@pytest.fixture(scope="module")
def marketo():
    with serve_marketo(SANDBOX) as served:
        yield served


def settings(marketo) -> dict:
    # No extract_since: the extract finds where the people start.
    return {"base_url": marketo.url, "client_id": marketo.client_id, "client_secret": marketo.client_secret,
            "bulk_poll_max_seconds": 0.1, "window_seconds": SANDBOX.window_seconds, "calls_per_window": 1000}


def extract(marketo, database_url) -> dict:
    result = dg.materialize([marketo_person_extract], resources={
        "marketo": MarketoResource(**settings(marketo)), "actions_db": ActionsDatabase(url=database_url)})
    assert result.success
    return {k: v.value for k, v in result.asset_materializations_for_node("marketo_person_extract")[0].metadata.items()}


def extract_rows(database_url) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT {EXTRACT_COLUMNS} FROM marketo_person_extract ORDER BY marketo_id").fetchall()


def loaded_windows(database_url) -> tuple[int, dict[int, str]]:
    """(windows planned, {window index: export id} of the loaded ones); (0, {}) before the run has planned."""
    try:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT window_index, export_id, loaded_at IS NOT NULL FROM person_extract_window").fetchall()
    except psycopg.errors.UndefinedTable:
        return 0, {}
    return len(rows), {index: export_id for index, export_id, loaded in rows if loaded}


def test_the_extract_starts_where_the_people_start_and_records_the_span(marketo, database_url):
    metadata = extract(marketo, database_url)
    assert metadata["created_span_source"] == "lowest lead ids"
    first_lead = marketo.sandbox.leads()["createdAt"].min()
    span_from = metadata["created_span_from"]
    assert span_from <= first_lead.isoformat() and span_from >= SANDBOX_CREATED_FROM.replace(year=2024).isoformat()
    # 18 months of people and the months since: about two dozen windows, not the 247 since 2006.
    assert 18 <= metadata["windows_planned"] <= 30 and metadata["windows_exported"] == metadata["windows_planned"]
    assert metadata["people_read"] >= SANDBOX.size and len(extract_rows(database_url)) == SANDBOX.size


def test_a_run_killed_half_way_resumes_without_exporting_a_loaded_window_again(marketo, database_url,
                                                                               postgres_admin_url):
    creates_before = marketo.sandbox.calls_by_path["/bulk/v1/leads/export/create.json"]
    child = subprocess.Popen(
        [sys.executable, "-m", "sync_pipelines_tests.people.extract_runner", json.dumps(settings(marketo)), database_url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while True:
            planned, loaded = loaded_windows(database_url)
            if planned and len(loaded) >= planned // 2:
                break
            assert child.poll() is None and time.monotonic() < deadline, "the extract ended before half its windows"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    planned, loaded = loaded_windows(database_url)
    assert len(loaded) < planned
    assert extract_rows(database_url) == []  # nothing merged from a partial extract

    metadata = extract(marketo, database_url)

    assert metadata["resumed"] is True
    assert metadata["windows_loaded_by_earlier_run"] == len(loaded)
    assert metadata["windows_exported"] == planned - len(loaded)
    # Every window was exported by exactly one job over both runs: in-flight jobs were re-attached.
    assert marketo.sandbox.calls_by_path["/bulk/v1/leads/export/create.json"] - creates_before == planned
    with psycopg.connect(database_url) as conn:
        (staged,) = conn.execute("SELECT count(*) FROM person_extract_staged").fetchone()
        runs = conn.execute("SELECT count(*), count(merged_at) FROM person_extract_run").fetchone()
    assert staged == 0 and runs == (1, 1)
    with scratch_database(postgres_admin_url, migrated=True) as unkilled:
        extract(marketo, unkilled)
        assert extract_rows(database_url) == extract_rows(unkilled)


def test_no_transaction_of_the_extract_spans_more_than_one_window(marketo, database_url):
    """Sampled from pg_stat_activity while the extract runs: each transaction seen holds at most one
    window's load (windows are stamped with their load transaction's start), never the whole extract."""
    database = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    seen: dict[tuple[int, object], object] = {}  # (pid, xact_start) -> last seen (server clock)
    stop = threading.Event()

    def sample():
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                for pid, xact_start, now in conn.execute(
                    "SELECT pid, xact_start, clock_timestamp() FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND xact_start IS NOT NULL", (database,)):
                    seen[(pid, xact_start)] = now
                time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        metadata = extract(marketo, database_url)
    finally:
        stop.set()
        sampler.join()
    with psycopg.connect(database_url) as conn:
        loads = [row[0] for row in conn.execute("SELECT loaded_at FROM person_extract_window ORDER BY loaded_at")]
    assert metadata["windows_exported"] == len(loads) > 10 and len(set(loads)) == len(loads)
    assert seen, "the sampler saw no transaction"
    for (pid, started), last_seen in seen.items():
        windows_inside = sum(started <= loaded <= last_seen for loaded in loads)
        assert windows_inside <= 1, f"a transaction of backend {pid} was open across {windows_inside} window loads"


def test_a_bad_file_fails_the_run_merges_nothing_and_is_exported_afresh_next_time(marketo, database_url):
    """A file that fails its checks (here a row with too many fields) keeps nothing of its window, and
    its job is forgotten: the next run asks Marketo for a new file instead of re-reading the bad one."""
    files = []  # the bad row goes into the first file rendered only

    def bad_row_once(fields):
        files.append(1)
        return b"1,too,many,fields\r\n" if len(files) == 1 else b""

    marketo.sandbox.add_raw_export_line(bad_row_once)
    try:
        result = dg.materialize([marketo_person_extract], raise_on_error=False, resources={
            "marketo": MarketoResource(**settings(marketo)), "actions_db": ActionsDatabase(url=database_url)})
    finally:
        marketo.sandbox.raw_export_lines = []
    assert not result.success
    with psycopg.connect(database_url) as conn:
        first = conn.execute(
            "SELECT export_id, loaded_at FROM person_extract_window WHERE window_index = 0").fetchone()
    assert first == (None, None)
    assert extract_rows(database_url) == []

    metadata = extract(marketo, database_url)
    assert metadata["resumed"] is True and metadata["windows_loaded_by_earlier_run"] == 0
    assert len(extract_rows(database_url)) == SANDBOX.size
