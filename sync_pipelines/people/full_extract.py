"""The full person extract (initial sync and nightly compare): planned, checkpointed per window, resumable.

How the time goes: Marketo's export jobs (queued, then processed 2 at a time) take nearly all of it, so
the windows start where the instance's leads start (not at a fixed date years earlier), jobs are kept
in flight ahead of the loader, and each finished file is loaded while the next jobs run. Every window is
committed on its own with its export job id; a run killed part-way is resumed by the next one, which
re-attaches to the jobs still in flight. The merge into marketo_person_extract is a short transaction
of its own, and happens only when every window is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd
import psycopg

from sync_pipelines.marketo.bulk import MAX_WINDOW, ExportRequest, created_at_filter
from sync_pipelines.marketo.client import MarketoClient
from sync_pipelines.marketo.errors import MarketoError
from sync_pipelines.marketo.data_start import extract_start
from sync_pipelines.marketo.dates import split_windows
from sync_pipelines.people.fields import EXTRACT_FIELDS, OPTIONAL_FIELDS, REQUIRED_FIELDS
from sync_pipelines.people.transforms import REPAIR_COLUMNS, normalize_extract
from sync_pipelines.store.extract_runs import record_extract_finished
from sync_pipelines.store.people import ExtractLoad, WriteCounts, forget_stale_quarantine, quarantine_people
from sync_pipelines.store.person_repairs import record_person_repairs
from sync_pipelines.store.person_extract_runs import (
    ExtractRun,
    hold_extract_writer,
    mark_merged,
    merge_extract,
    record_export_id,
    resumable_extract,
    stage_window,
    staged_totals,
    start_extract,
)

FIELDS = list(EXTRACT_FIELDS)
BAD_FILE_CODES = {"export-count", "export-header", "export-malformed"}
# When the lowest lead ids show no lead at all: cover everything Marketo can hold (it launched in 2006).
EARLIEST_POSSIBLE = datetime(2006, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class FullExtract:
    """What a full extract did, for the asset's metadata."""

    extract_id: int
    resumed: bool
    span_from: datetime | None
    span_until: datetime | None
    span_source: str
    windows_planned: int
    windows_loaded_before: int  # by an earlier, killed run (resumed)
    windows_exported: int  # by this run
    people_read: int
    people_quarantined: int
    counts: WriteCounts
    repaired: pd.DataFrame  # fields this run repaired (ids and field names; every repair is in person_repair)


def fields_on_instance(client: MarketoClient) -> tuple[list[str], list[str]]:
    """(the lead fields to read, the support fields the instance lacks), from its lead describe.

    Fails naming every missing synced field and the owner field: without them nobody can be synced. A missing
    support field (sfdcType, unsubscribed, emailInvalid, updatedAt) is only left out.
    """
    known = client.lead_fields()
    missing = [name for name in REQUIRED_FIELDS if name not in known]
    if missing:
        raise dg.Failure(
            description=(f"The Marketo instance's lead describe has no {', '.join(missing)} field (REST names). The "
                         "sync needs the 11 synced fields and the owner (sfdcLeadOwnerId): add them, or give the API "
                         "user access to them, then rerun. Nothing was synced."),
            metadata={"missing_fields": dg.MetadataValue.json(missing)},
        )
    lacking = [name for name in OPTIONAL_FIELDS if name not in known]
    return [name for name in FIELDS if name not in lacking], lacking


def run_full_extract(
    client: MarketoClient, conn: psycopg.Connection, *, smart_list_id: int | None, extract_since: str | None,
    fields: list[str] = FIELDS,
) -> FullExtract:
    """Extract every person (by smart list, or by createdAt windows) into marketo_person_extract.
    fields: the lead fields to export (FIELDS less the support fields the instance lacks)."""
    hold_extract_writer(conn)
    plan = {"fields": fields, "smart_list_id": smart_list_id, "extract_since": extract_since}
    run = resumable_extract(conn, plan)
    span_source = "resumed"
    if run is None:
        filters, span, span_source = _plan_windows(client, smart_list_id, extract_since)
        run = start_extract(conn, plan, filters, span)
    loaded_before = len(run.windows) - len(run.pending)
    requests = [ExportRequest(window.index, window.export_filter, window.export_id) for window in run.pending]
    finished_files = client.run_exports(
        fields, requests, on_created=lambda index, export_id: record_export_id(conn, run.extract_id, index, export_id)
    )
    exported, repairs = 0, []
    one_job = len(run.windows) == 1  # one window is the whole extract: load and merge it in one transaction
    with closing(finished_files):  # on an error, the jobs still running are canceled at once
        for finished in finished_files:
            try:
                if one_job:
                    counts = _load_and_merge(conn, run, client.read_export(finished, fields), repairs)
                else:
                    rejected: list[pd.DataFrame] = []
                    window_repairs: list[pd.DataFrame] = []
                    chunks = clean_chunks(client.read_export(finished, fields), rejected, window_repairs)
                    stage_window(conn, run, finished.key, chunks, rejected, window_repairs)
                    repairs += window_repairs
            except MarketoError as error:
                if error.code in BAD_FILE_CODES:  # a bad file: the next run asks Marketo for a new one
                    record_export_id(conn, run.extract_id, finished.key, None)
                raise
            exported += 1
    if not one_job:
        counts = merge_extract(conn, run)
    read, quarantined = staged_totals(conn, run.extract_id)
    return FullExtract(
        extract_id=run.extract_id,
        resumed=run.resumed,
        span_from=run.span_from,
        span_until=run.span_until,
        span_source=span_source,
        windows_planned=len(run.windows),
        windows_loaded_before=loaded_before,
        windows_exported=exported,
        people_read=read,
        people_quarantined=quarantined,
        counts=counts,
        repaired=repairs_frame(repairs),
    )


def _plan_windows(
    client: MarketoClient, smart_list_id: int | None, extract_since: str | None
) -> tuple[list[dict], tuple[datetime, datetime] | None, str]:
    """(export filters, createdAt span, how the span's start was chosen)."""
    if smart_list_id is not None:
        return [{"smartListId": smart_list_id}], None, "smart list"
    if extract_since:
        since = datetime.fromisoformat(extract_since)
        since, source = (since if since.tzinfo else since.replace(tzinfo=timezone.utc)), "MARKETO_EXTRACT_SINCE"
    else:
        found = extract_start(client)
        since, source = (EARLIEST_POSSIBLE, "no lead found by id") if found is None else (found[0], "lowest lead ids")
    # The filter is written to the second and endAt is inclusive: end on the next whole second, so that a
    # lead created in the second the plan is made (12:00:00.5 is after an endAt of 12:00:00) is inside it.
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    filters = [created_at_filter(start, end) for start, end in split_windows(since, until, MAX_WINDOW)]
    return filters, (since, until), source


def _load_and_merge(
    conn: psycopg.Connection, run: ExtractRun, raw_chunks: Iterable[pd.DataFrame], repairs: list[pd.DataFrame]
) -> WriteCounts:
    with conn.transaction():
        extract = ExtractLoad(conn)
        rejected: list[pd.DataFrame] = []
        extract.load(clean_chunks(raw_chunks, rejected, repairs))
        quarantined = sum(quarantine_people(conn, bad, run.started_at) for bad in rejected)
        record_person_repairs(conn, repairs_frame(repairs), run.started_at)
        counts = extract.merge(scope_ids=None, started_at=run.started_at)
        forget_stale_quarantine(conn, run.started_at, marketo_ids=None)
        mark_merged(conn, run, rows_read=extract.loaded + quarantined, rows_quarantined=quarantined)
        # The completion marker commits with the rows: the paced load and checks trust only this.
        record_extract_finished(conn, "full", run.started_at)
    return counts


def clean_chunks(
    raw_chunks: Iterable[pd.DataFrame], rejected: list[pd.DataFrame], repairs: list[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    """The clean rows of each chunk; rejected rows go to `rejected` (the quarantine), repaired fields to
    `repairs` (person_repair)."""
    for raw in raw_chunks:
        clean, bad = normalize_extract(raw, repairs)
        rejected.append(bad)
        yield clean


def repairs_frame(repairs: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(repairs, ignore_index=True) if repairs else pd.DataFrame(columns=REPAIR_COLUMNS)
