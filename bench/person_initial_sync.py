"""Initial person sync of N sandbox people through person_sync_job, against the bare-COPY floor.

    .venv/bin/python -m bench.person_initial_sync [--size 1000000] [--smart-list-id 1 | --windows]
    .venv/bin/python -m bench.person_initial_sync --size 20000 --export-seconds 5

Prints wall time, people per second, peak memory of the run process, Marketo API calls, and the same
qualified rows loaded by a bare COPY into an empty table (the floor) with the ratio of the two, and that
ratio again for the sync's own time (without the wait for Marketo's export). Also the design floor: the
wait for Marketo's export plus bare COPYs of everything the design stores (all extracted people and the
synced ones), and the ratio to that.
By default the extract uses the sandbox's "All People" smart list (one export job, as a production
deployment should); --smart-list-id 2 exports only the sales-owned people (half the rows to read and
store); --windows uses 31-day createdAt windows instead.

--export-seconds S gives every export job Marketo-like timing (S seconds Queued, then S seconds
Processing, 2 at a time) and runs the extract the way a default deployment does: createdAt windows from
where the people start (no MARKETO_EXTRACT_SINCE), status polls capped at the default 30 s. It reports
the windows planned and those holding people, jobs, polls, Marketo calls and the wall time against the
job-time floor: ceil(windows with people / 2) x one job's time (2 S), what Marketo's 2 processing slots
need at least for the windows that hold people.
"""

from __future__ import annotations

import argparse
import io
import math
import time

import dagster as dg
import psycopg

from bench.common import fresh_database, peak_memory_mib, report, sandbox_marketo, sandbox_process
from sync_pipelines import people
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store.people import EXTRACT_COLUMNS, PERSON_COLUMNS


def run_sync(sandbox: dict, database_url: str, smart_list_id: int | None, export_seconds: float | None = None) -> dict:
    if export_seconds is None:
        marketo = sandbox_marketo(sandbox, smart_list_id=smart_list_id)
    else:  # a default deployment: no MARKETO_EXTRACT_SINCE, the default poll cap
        marketo = sandbox_marketo(sandbox, smart_list_id=None, poll_max_seconds=30.0, extract_since=None)
    # The instance exists before the clock starts, as it does in a deployment: its lazy imports
    # (about 1 s) are Dagster's start-up, not the run's.
    instance = dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    result = dg.materialize(
        people.ASSETS,
        resources={"marketo": marketo, "actions_db": ActionsDatabase(url=database_url)},
        instance=instance,
    )
    wall = time.monotonic() - started
    assert result.success
    extract = result.asset_materializations_for_node("marketo_person_extract")[0].metadata
    actions = result.asset_materializations_for_node("actions_people")[0].metadata
    return {
        "wall_seconds": round(wall, 2),
        "people_read": extract["people_read"].value,
        "people_synced": actions["inserted"].value,
        "marketo_api_calls": extract["marketo_api_calls"].value,
        "marketo_export_wait_seconds": extract["marketo_export_wait_seconds"].value,
        "marketo_export_jobs": extract["marketo_export_jobs_created"].value,
        "marketo_export_status_polls": extract["marketo_export_status_polls"].value,
        "windows_planned": extract["windows_planned"].value,
        "windows_exported": extract["windows_exported"].value,
        "created_span_from": extract["created_span_from"].value,
        "extract_seconds": extract["duration_seconds"].value,
        "actions_seconds": actions["duration_seconds"].value,
    }


def copy_seconds(database_url: str, source: str, columns: list[str]) -> float:
    """Seconds to COPY the rows of `source` into an empty table of the same shape with the same primary key."""
    column_list = ", ".join(columns)
    with psycopg.connect(database_url) as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy(f"COPY (SELECT {column_list} FROM {source}) TO STDOUT") as copy:
            for data in copy:
                buffer.write(data)
        conn.execute(f"CREATE TABLE copy_floor AS SELECT {column_list} FROM {source} WITH NO DATA")
        conn.execute("ALTER TABLE copy_floor ADD PRIMARY KEY (marketo_id)")
        conn.commit()
        started = time.monotonic()
        with conn.cursor().copy(f"COPY copy_floor ({column_list}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
        elapsed = time.monotonic() - started
        conn.execute("DROP TABLE copy_floor")
        conn.commit()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="sandbox people (about half owned)")
    parser.add_argument("--smart-list-id", type=int, default=1, choices=[1, 2],
                        help="the sandbox smart list to export: 1 All People, 2 Sales-owned People")
    parser.add_argument("--windows", action="store_true", help="extract by 31-day windows, not a smart list")
    parser.add_argument("--export-seconds", type=float, default=None,
                        help="seconds each export job spends Queued and again Processing (implies windows)")
    args = parser.parse_args()
    if args.export_seconds is not None:
        export_timing(args.size, args.export_seconds)
        return
    smart_list_id = None if args.windows else args.smart_list_id
    with sandbox_process(args.size) as sandbox, fresh_database() as database_url:
        figures = {"size": args.size, "extract_path": f"smart_list_{smart_list_id}" if smart_list_id else "windows"}
        figures.update(run_sync(sandbox, database_url, smart_list_id))
        figures["people_per_second"] = round(figures["people_synced"] / figures["wall_seconds"])
        figures["peak_memory_mib"] = round(peak_memory_mib())
        figures["api_calls_per_10000_people"] = round(figures["marketo_api_calls"] / (args.size / 10_000), 3)
        # The floor: the synced people alone, loaded by a bare COPY.
        floor = copy_seconds(database_url, "actions_person", PERSON_COLUMNS)
        figures["bare_copy_floor_seconds"] = round(floor, 2)
        figures["ratio_to_copy_floor"] = round(figures["wall_seconds"] / floor, 2)
        # The sync's own work: the wall time less the wait for Marketo to produce the export (minutes in
        # production, the emulator's rendering here), which no bare COPY has to sit through.
        own = figures["wall_seconds"] - figures["marketo_export_wait_seconds"]
        figures["seconds_without_export_wait"] = round(own, 2)
        figures["ratio_to_copy_floor_without_export_wait"] = round(own / floor, 2)
        # What the design must write at least: every extracted person (the marketo_person_extract
        # asset) and the synced people, each by a bare COPY, after Marketo has produced the export.
        extract_floor = copy_seconds(database_url, "marketo_person_extract", EXTRACT_COLUMNS)
        design_floor = figures["marketo_export_wait_seconds"] + extract_floor + floor
        figures["extract_copy_floor_seconds"] = round(extract_floor, 2)
        figures["design_floor_seconds"] = round(design_floor, 2)
        figures["ratio_to_design_floor"] = round(figures["wall_seconds"] / design_floor, 2)
    variant = "" if figures["extract_path"] == "smart_list_1" else f"_{figures['extract_path']}"
    report(f"person_initial_sync{variant}", figures)


def export_timing(size: int, export_seconds: float) -> None:
    """The initial sync by createdAt windows against Marketo-like export job times."""
    with sandbox_process(size, 42, "--export-seconds", str(export_seconds)) as sandbox, \
            fresh_database() as database_url:
        figures = {"size": size, "export_stage_seconds": export_seconds}
        figures.update(run_sync(sandbox, database_url, None, export_seconds))
        with psycopg.connect(database_url) as conn:
            (with_people,) = conn.execute("SELECT count(*) FROM person_extract_window WHERE rows_read > 0").fetchone()
    job_seconds = 2 * export_seconds
    floor = math.ceil(with_people / 2) * job_seconds
    figures["windows_with_people"] = with_people
    figures["job_time_floor_seconds"] = round(floor, 2)
    figures["ratio_to_job_time_floor"] = round(figures["wall_seconds"] / floor, 2)
    report("person_initial_sync_export_timing", figures)


if __name__ == "__main__":
    main()
