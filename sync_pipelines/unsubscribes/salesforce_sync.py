"""The steps of salesforce_unsubscribes, in order: read Salesforce, (resolve: transforms.py), write
Salesforce, then settle (quarantine, clear, advance the cursors). Each step commits on its own, so a
crash between two steps leaves a state the next run continues from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg

from sync_pipelines.salesforce.client import SalesforceClient
from sync_pipelines.store.unsubscribes import PushedRecord, clear_quarantine, get_cursor, mark_pushed, quarantine, set_cursor
from sync_pipelines.unsubscribes.salesforce_io import OBJECTS, READING_COLUMNS, read_changes, read_records, write_opt_outs
from sync_pipelines.unsubscribes.transforms import record_key

# Each read starts this long before the cursor: a change whose SystemModstamp was stamped before a commit
# that became visible later is still read. Re-read records are recognised and skipped.
CURSOR_OVERLAP = timedelta(minutes=2)
NOT_FOUND = "Salesforce record not found (deleted or not visible)"


@dataclass
class Readings:
    """What Salesforce returned this run, and where each object's cursor moves once it is all applied."""

    frame: pd.DataFrame
    changes_read: int = 0
    new_cursors: dict[str, datetime] = field(default_factory=dict)


def cursor_name(sobject: str) -> str:
    return f"salesforce_{sobject.lower()}_modstamp"


def read_salesforce(conn: psycopg.Connection, client: SalesforceClient, records: pd.DataFrame,
                    people: pd.DataFrame) -> Readings:
    """What changed in Salesforce since the cursors, and every record never seen before."""
    readings, known = Readings(pd.DataFrame(columns=READING_COLUMNS)), record_key(people["state_salesforce_id"].dropna())
    frames = []
    for sobject in OBJECTS:
        cursor = get_cursor(conn, cursor_name(sobject))
        ours = records[records["salesforce_object"] == sobject]
        if cursor is None:  # first run for this object: read every Actions person's record by id
            changed, unseen = pd.DataFrame(columns=READING_COLUMNS), ours
        else:
            changed = read_changes(client, sobject, cursor - CURSOR_OVERLAP)
            unseen = ours[~record_key(ours["salesforce_id"]).isin(known)]
        first_seen = read_records(client, sobject, unseen["salesforce_id"].tolist())
        readings.changes_read += len(changed)
        frames += [changed, first_seen]
        stamps = pd.concat([changed["modstamp"], first_seen["modstamp"]]).dropna()
        if not stamps.empty:
            readings.new_cursors[sobject] = stamps.max()
    readings.frame = pd.concat(frames, ignore_index=True)
    return readings


def write_salesforce(conn: psycopg.Connection, client: SalesforceClient, resolved: pd.DataFrame, now: datetime, *,
                     dry_run: bool) -> list[tuple[int, str, str]]:
    """Write the due opt-outs, read the written records back (the agreed state and its time) and record them.
    Returns the refused ones as (marketo_id, salesforce_id, reason). A dry run records every update as
    accepted and writes nothing to Salesforce."""
    failed = []
    for sobject in OBJECTS:
        due = resolved[resolved["push"] & (resolved["salesforce_object"] == sobject)]
        if due.empty:
            continue
        if dry_run:
            with conn.transaction():
                mark_pushed(conn, [PushedRecord(int(i), bool(t), None) for i, t in zip(due["marketo_id"], due["target"])],
                            now)
            continue
        results = write_opt_outs(client, sobject, list(zip(due["salesforce_id"], due["target"].astype(bool))))
        failed += [(int(marketo_id), record_id, f"Salesforce refused the opt-out update: {result.error_code or 'unknown'}")
                   for marketo_id, record_id, result in zip(due["marketo_id"], due["salesforce_id"], results)
                   if not result.success]
        written = due[[result.success for result in results]]
        back = read_records(client, sobject, written["salesforce_id"].tolist())
        back = back.assign(sf_key=record_key(back["salesforce_id"]))
        pushed = written.assign(sf_key=record_key(written["salesforce_id"])).merge(back, on="sf_key", how="left")
        with conn.transaction():
            mark_pushed(conn, [PushedRecord(int(r.marketo_id), bool(r.target), None if pd.isna(r.modstamp) else r.modstamp)
                               for r in pushed.itertuples(index=False)], now)
    return failed


def settle(conn: psycopg.Connection, resolved: pd.DataFrame, bad: list[tuple[int, str, str]],
           new_cursors: dict[str, datetime], now: datetime) -> int:
    """Quarantine what could not sync, clear who did, then advance the cursors (all applied now), in one
    transaction. Returns the number quarantined."""
    with conn.transaction():
        quarantined = quarantine(conn, bad, now)
        failed_ids = {row[0] for row in bad}
        clear_quarantine(conn, [int(i) for i in resolved["marketo_id"] if int(i) not in failed_ids])
        for sobject, position in new_cursors.items():
            set_cursor(conn, cursor_name(sobject), position, now)
    return quarantined
