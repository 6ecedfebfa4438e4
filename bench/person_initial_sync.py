"""Initial person sync of N sandbox people through person_sync_job, against the bare-COPY floor.

    .venv/bin/python bench/person_initial_sync.py [--size 1000000] [--windows]

Prints wall time, people per second, peak memory of the run process, Marketo API calls, and the same
qualified rows loaded by a bare COPY into an empty table (the floor) with the ratio of the two.
By default the extract uses the sandbox's "All People" smart list (one export job, as a production
deployment should); --windows uses 31-day createdAt windows instead.
"""

from __future__ import annotations

import argparse
import io
import time

import dagster as dg
import psycopg

from bench.common import fresh_database, peak_memory_mib, report, sandbox_process
from sync_pipelines import people
from sync_pipelines.resources import ActionsDatabase, MarketoResource
from sync_pipelines.sandbox.seed import SANDBOX_CREATED_FROM
from sync_pipelines.store.people import PERSON_COLUMNS


def run_sync(sandbox: dict, database_url: str, windows: bool) -> dict:
    marketo = MarketoResource(
        base_url=sandbox["marketo_url"],
        client_id=sandbox["marketo_client_id"],
        client_secret=sandbox["marketo_client_secret"],
        bulk_poll_seconds=0.2,
        calls_per_window=100,
        extract_since=SANDBOX_CREATED_FROM.isoformat(),
        smart_list_id=None if windows else 1,
    )
    started = time.monotonic()
    result = dg.materialize(
        [people.marketo_person_extract, people.sales_owned_people, people.actions_people],
        resources={"marketo": marketo, "actions_db": ActionsDatabase(url=database_url)},
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
        "extract_seconds": extract["duration_seconds"].value,
        "actions_seconds": actions["duration_seconds"].value,
    }


def copy_floor(database_url: str) -> float:
    """Seconds to COPY the synced rows into an empty table of the same shape: the hardware floor."""
    columns = ", ".join(PERSON_COLUMNS)
    with psycopg.connect(database_url) as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy(f"COPY (SELECT {columns} FROM actions_person) TO STDOUT") as copy:
            for data in copy:
                buffer.write(data)
        # The 11 fields with the same primary key: what any load of these rows must at least do.
        conn.execute(f"CREATE TABLE copy_floor AS SELECT {columns} FROM actions_person WITH NO DATA")
        conn.execute("ALTER TABLE copy_floor ADD PRIMARY KEY (marketo_id)")
        conn.commit()
        started = time.monotonic()
        with conn.cursor().copy(f"COPY copy_floor ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="sandbox people (about half owned)")
    parser.add_argument("--windows", action="store_true", help="extract by 31-day windows, not the smart list")
    args = parser.parse_args()
    with sandbox_process(args.size) as sandbox, fresh_database() as database_url:
        figures = {"size": args.size, "extract_path": "windows" if args.windows else "smart_list"}
        figures.update(run_sync(sandbox, database_url, args.windows))
        figures["people_per_second"] = round(figures["people_synced"] / figures["wall_seconds"])
        figures["peak_memory_mib"] = round(peak_memory_mib())
        figures["api_calls_per_10000_people"] = round(figures["marketo_api_calls"] / (args.size / 10_000), 3)
        floor = copy_floor(database_url)
        figures["bare_copy_floor_seconds"] = round(floor, 2)
        figures["ratio_to_copy_floor"] = round(figures["wall_seconds"] / floor, 2)
    report("person_initial_sync", figures)


if __name__ == "__main__":
    main()
