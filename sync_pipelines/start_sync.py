"""The admin's "initiate data sync": `python -m sync_pipelines.start_sync [--status | --stop]`.

Uses the Actions database of the environment (SYNC_DATABASE_URL, else the local embedded one). Once
started, person_batch_schedule runs the paced initial load, then marketo_person_change_sensor and
person_reconciliation_schedule keep people in step; task sync stays as each seller's task_sync setting says
(off by default).
"""

from __future__ import annotations

import argparse
import sys

from sync_pipelines import store
from sync_pipelines.store.database import actions_database_url, redacted
from sync_pipelines.store.sync_control import start_sync, stop_sync, sync_started_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_pipelines.start_sync", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help="say whether the sync is started; change nothing")
    action.add_argument("--stop", action="store_true", help="pause every sensor and schedule")
    args = parser.parse_args(argv)
    url = actions_database_url()
    with store.connect(url) as conn:
        if args.stop:
            changed = stop_sync(conn)
            print("Data sync stopped." if changed else "Data sync was not started.")
        elif not args.status:
            changed = start_sync(conn)
            print("Data sync started." if changed else "Data sync was already started.")
        started = sync_started_at(conn)
    print(f"Actions database: {redacted(url)}")
    print(f"Started at: {started.isoformat()}" if started else "Not started.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
