"""Bulk Lead Extract: export jobs kept busy on Marketo's side, downloaded to disk, read back checked.

Life of one job: create -> enqueue -> poll status until Completed -> stream the file to a temp
file (Range resume, SHA-256 check) -> read it in chunks, checking the header and the record count
against numberOfRecords -> delete the file.

Waiting for Marketo dominates. Marketo processes 2 jobs at a time per instance and holds each one
Queued for a while first, so `JOBS_IN_FLIGHT` jobs are kept queued or processing: when a slot
frees, a job that has done its queue time takes it. Status polls start at 1 s and double up to a
cap, so a job that takes 3 s is seen within about 4 s and a job that takes an hour costs a poll per
cap. Finished files are handed to the caller in order, while the next jobs keep running.

A caller may pass the exportId of a job an earlier, killed run created for a window: the job is
re-attached (a finished file stays downloadable for 7 days) instead of being created again.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from .api import MarketoApi
from .dates import marketo_datetime, split_windows
from .errors import BULK_QUEUE_CODE, MarketoError, MarketoQuotaExceeded

log = logging.getLogger(__name__)
T = TypeVar("T")

EXPORTS = "/bulk/v1/leads/export"
MAX_WINDOW = timedelta(days=31)  # Marketo refuses createdAt ranges longer than 31 days
# 2 processing + 4 queued behind them: when a slot frees, a job that has done its queue time is there,
# even when we notice a finished job a poll late (with 2 queued the slots idle for that lag plus a queue
# time per pair: 94 s instead of 68 s for 24 windows of 5 s + 5 s jobs). Marketo's queue (10 jobs) is
# shared with every integration of the instance, so 4 places stay free for the others.
JOBS_IN_FLIGHT = 6
FIRST_POLL_SECONDS = 1.0  # then doubling up to the cap (MARKETO_BULK_POLL_MAX_SECONDS)
ENQUEUE_ATTEMPTS = 20  # tries while the export queue stays full (about 70 min in production)
BOUNDARY_MARGIN = timedelta(days=1)  # how close to a window's end a lead may reappear in the next window
FAILED_STATES = {"Failed", "Canceled", "Cancelled"}  # Marketo's docs spell it both ways
RUNNING_STATES = {"Queued", "Processing"}
_BLOCK_BYTES = 4 << 20  # the CSV reader's unit of work: bigger blocks cost memory and gain no speed


@dataclass(frozen=True)
class ExportRequest:
    """One export job to run: `key` is the caller's name for it (a window number), `filter` Marketo's.

    export_id: a job an earlier run created for the same filter, to re-attach to if still usable.
    """

    key: int
    filter: dict
    export_id: str | None = None


@dataclass(frozen=True)
class FinishedExport:
    """A completed job's file on local disk, deleted when the caller asks for the next one."""

    key: int
    export_id: str
    path: str
    number_of_records: int


@dataclass
class ExportStats:
    """What the exports cost: jobs created and re-attached, status polls, seconds spent waiting."""

    jobs_created: int = 0
    jobs_reattached: int = 0
    status_polls: int = 0
    wait_seconds: float = 0.0


@dataclass
class _Job:
    request: ExportRequest
    export_id: str
    tracked_since: float  # time.monotonic() when this run queued or re-attached it


class LeadExporter:
    """Runs lead export jobs through one `MarketoApi`; see the module docstring."""

    def __init__(self, api: MarketoApi, *, poll_max_seconds: float, job_timeout_seconds: float):
        self._api = api
        self._poll_max = poll_max_seconds
        self._job_timeout = job_timeout_seconds
        self.stats = ExportStats()

    def run(
        self,
        fields: list[str],
        requests: Iterable[ExportRequest],
        *,
        workdir: str | None,
        on_created: Callable[[int, str], None] | None = None,
    ) -> Iterator[FinishedExport]:
        """Run one job per request and yield each finished file, in request order.

        `on_created(key, export_id)` is called as soon as a job exists, before it is enqueued, so a
        caller can record it and re-attach after a crash. A file is deleted when the caller asks for
        the next one (or closes the generator). Stopping early cancels the jobs still running.
        """
        upcoming = iter(requests)
        in_flight: deque[_Job] = deque()  # oldest first
        try:
            self._fill(in_flight, upcoming, fields, on_created)
            while in_flight:
                job = in_flight[0]
                status = self._wait_until_completed(job)
                path = self._download(job.export_id, status, workdir)
                try:
                    in_flight.popleft()
                    self._fill(in_flight, upcoming, fields, on_created)  # they run while the caller loads
                    yield FinishedExport(job.request.key, job.export_id, path, _record_count(job.export_id, status))
                finally:
                    os.remove(path)
        finally:
            # Stopped early (error or the caller closed the generator): free Marketo's queue.
            for job in in_flight:
                self._cancel_quietly(job.export_id)

    def export_created(
        self,
        fields: list[str],
        created_from: datetime,
        created_until: datetime,
        *,
        chunk_rows: int,
        workdir: str | None,
    ) -> Iterator[pd.DataFrame]:
        """Leads created in [created_from, created_until), one createdAt window (<= 31 days) at a time.

        Windows are read in order. Adjacent windows share their boundary instant and Marketo has
        been seen to repeat a lead across windows (e.g. around DST), so a lead of window N+1 is
        dropped when window N already yielded it within `BOUNDARY_MARGIN` of its end; this costs
        one small id set. Rows are NOT deduplicated otherwise: callers upsert by `id`.
        """
        windows = split_windows(created_from, created_until, MAX_WINDOW)
        filters = [created_at_filter(start, end) for start, end in windows]
        if "id" not in fields:
            yield from self.export_filtered(fields, filters, chunk_rows=chunk_rows, workdir=workdir)
            return
        # createdAt tells which rows sit near a boundary; fetch it even when the caller did not ask.
        wanted = fields if "createdAt" in fields else [*fields, "createdAt"]
        near_previous_end: set[str] = set()
        for finished in self.run(wanted, _requests(filters), workdir=workdir):
            near_this_end: set[str] = set()
            for frame in read_export(finished, wanted, chunk_rows):
                frame = frame[~frame["id"].isin(near_previous_end)]
                created = pd.to_datetime(frame["createdAt"], utc=True, errors="coerce", format="ISO8601")
                near_this_end.update(frame.loc[created >= windows[finished.key][1] - BOUNDARY_MARGIN, "id"])
                if len(frame):
                    yield frame[fields].reset_index(drop=True)
            near_previous_end = near_this_end

    def export_filtered(
        self, fields: list[str], filters: Iterable[dict], *, chunk_rows: int, workdir: str | None
    ) -> Iterator[pd.DataFrame]:
        """One export job per filter (in order); yields every row of every job in chunks."""
        for finished in self.run(fields, _requests(filters), workdir=workdir):
            yield from read_export(finished, fields, chunk_rows)

    # --- the job pipeline -----------------------------------------------------------------------

    def _fill(
        self,
        in_flight: deque[_Job],
        upcoming: Iterator[ExportRequest],
        fields: list[str],
        on_created: Callable[[int, str], None] | None,
    ) -> None:
        while len(in_flight) < JOBS_IN_FLIGHT:
            request = next(upcoming, None)
            if request is None:
                return
            export_id = request.export_id and self._reattach(request.export_id)
            if export_id:
                in_flight.append(_Job(request, export_id, time.monotonic()))
                continue
            body = {"fields": fields, "format": "CSV", "filter": request.filter}
            created = self._while_queue_full(lambda: self._api.call("POST", f"{EXPORTS}/create.json", json=body))
            export_id = str(created["result"][0]["exportId"])
            self.stats.jobs_created += 1
            in_flight.append(_Job(request, export_id, time.monotonic()))  # before enqueue: a failure cancels it
            if on_created is not None:
                on_created(request.key, export_id)
            self._while_queue_full(lambda: self._enqueue(export_id))

    def _reattach(self, export_id: str) -> str | None:
        """The job of an earlier run, enqueued if need be; None when it cannot be used (gone, failed)."""
        try:
            status = self._api.call("GET", f"{EXPORTS}/{export_id}/status.json")["result"][0]
        except MarketoError as exc:
            if isinstance(exc, MarketoQuotaExceeded):
                raise
            log.info("Marketo export %s of an earlier run is gone (%s): creating it again", export_id, exc.code)
            return None
        state = status.get("status")
        if state == "Created":
            self._while_queue_full(lambda: self._enqueue(export_id))
        elif state not in RUNNING_STATES and state != "Completed":
            return None
        self.stats.jobs_reattached += 1
        return export_id

    def _enqueue(self, export_id: str) -> None:
        """Enqueue a Created job; "already queued" (a replayed enqueue) counts as success."""
        try:
            self._api.call("POST", f"{EXPORTS}/{export_id}/enqueue.json")
        except MarketoError as exc:
            if not (exc.code == BULK_QUEUE_CODE and "already queued" in exc.message.lower()):
                raise

    def _while_queue_full(self, operation: Callable[[], T]) -> T:
        """Run `operation`, backing off while Marketo's shared export queue is full (1029).

        Adobe suggests 1 min doubling to 4 min: 2x to 8x the poll cap (30 s by default).
        """
        retrying = Retrying(
            retry=retry_if_exception(_queue_is_full),
            wait=wait_exponential(multiplier=2 * self._poll_max, max=8 * self._poll_max),
            stop=stop_after_attempt(ENQUEUE_ATTEMPTS),
            reraise=True,
        )
        return retrying(operation)

    def _wait_until_completed(self, job: _Job) -> dict:
        """Poll from 1 s after the job started, doubling up to the cap; fail past the deadline."""
        waiting_since = time.monotonic()
        delay = min(FIRST_POLL_SECONDS, self._poll_max)
        # A job that has run while we handled the one before it may be done already.
        next_poll = max(waiting_since, job.tracked_since + delay)
        try:
            while True:
                time.sleep(max(0.0, next_poll - time.monotonic()))
                status = self._api.call("GET", f"{EXPORTS}/{job.export_id}/status.json")["result"][0]
                self.stats.status_polls += 1
                state = status.get("status")
                if state == "Completed":
                    return status
                if state in FAILED_STATES:
                    raise MarketoError(
                        f"export-{state.lower()}",
                        f"lead export {job.export_id} ended {state}: {status.get('errorMsg') or ''}",
                    )
                elapsed = time.monotonic() - job.tracked_since
                if elapsed > self._job_timeout:
                    raise MarketoError(
                        "export-timeout",
                        f"lead export {job.export_id} was still {state} {elapsed:.0f} s after it was queued "
                        f"(limit MARKETO_BULK_EXPORT_TIMEOUT_SECONDS = {self._job_timeout:.0f}); it is canceled. "
                        "Marketo's export queue may be busy with other integrations: run again later or raise "
                        "the limit.",
                    )
                delay = min(delay * 2, self._poll_max)
                next_poll = time.monotonic() + delay
        finally:
            self.stats.wait_seconds += time.monotonic() - waiting_since

    def _download(self, export_id: str, status: dict, workdir: str | None) -> str:
        handle, path = tempfile.mkstemp(prefix=f"marketo-export-{export_id}-", suffix=".csv", dir=workdir)
        os.close(handle)
        try:
            size = self._api.download(f"{EXPORTS}/{export_id}/file.json", path, sha256=status.get("fileChecksum"))
        except BaseException:
            os.remove(path)
            raise
        log.info("Marketo export %s: %s records, %d bytes", export_id, status.get("numberOfRecords"), size)
        return path

    def _cancel_quietly(self, export_id: str) -> None:
        try:
            self._api.call("POST", f"{EXPORTS}/{export_id}/cancel.json")
        except MarketoError as exc:
            log.warning("could not cancel Marketo export %s (%s)", export_id, exc.code)


def created_at_filter(start: datetime, end: datetime) -> dict:
    """The export filter of one createdAt window."""
    return {"createdAt": {"startAt": marketo_datetime(start), "endAt": marketo_datetime(end)}}


def _requests(filters: Iterable[dict]) -> Iterator[ExportRequest]:
    return (ExportRequest(key, export_filter) for key, export_filter in enumerate(filters))


def _record_count(export_id: str, status: dict) -> int:
    count = status.get("numberOfRecords")
    if not isinstance(count, int) or count < 0:
        raise MarketoError("export-count", f"lead export {export_id} completed without a numberOfRecords")
    return count


def _queue_is_full(exc: BaseException) -> bool:
    """1029 "Too many jobs in queue" (not the export quota, not "already queued")."""
    return (
        isinstance(exc, MarketoError)
        and not isinstance(exc, MarketoQuotaExceeded)
        and exc.code == BULK_QUEUE_CODE
        and "already queued" not in exc.message.lower()
    )


def read_export(finished: FinishedExport, fields: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A finished export's rows in chunks of `chunk_rows`: every value a string, the literal `null` -> NA.

    The file must hold every requested field in its header and exactly numberOfRecords records:
    a renamed column or a short file raises MarketoError (after the chunks read so far, so a caller
    loading them in a transaction rolls them back) instead of passing for people with empty fields
    or people who left. Arrow's multi-threaded reader streams the file in blocks (quoted commas,
    quotes and line breaks, LF or CRLF, stay inside their values).
    """
    name = f"lead export {finished.export_id}"
    if os.path.getsize(finished.path) == 0:
        if finished.number_of_records:
            raise MarketoError("export-count", f"{name}: the file is empty, numberOfRecords is {finished.number_of_records}")
        return
    _replace_invalid_utf8(finished.path)
    missing = [field for field in fields if field not in _header(finished.path)]
    if missing:
        raise MarketoError("export-header", f"{name}: the file's header lacks the requested field(s) {', '.join(missing)}")
    malformed: list[str] = []

    def refuse_row(row: pa_csv.InvalidRow) -> str:
        # Only the row's position and shape: its text would put personal data in the error.
        malformed.append(f"row {row.number} has {row.actual_columns} fields, expected {row.expected_columns}")
        return "skip"

    reader = pa_csv.open_csv(
        finished.path,
        read_options=pa_csv.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=refuse_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={field: pa.string() for field in fields},
            include_columns=fields,
            null_values=["null"],
            strings_can_be_null=True,
        ),
    )
    pending: list[pa.RecordBatch] = []
    pending_rows = read = 0
    for batch in reader:
        if malformed:
            raise MarketoError("export-malformed", f"{name}: {malformed[0]}")
        pending.append(batch)
        pending_rows += batch.num_rows
        read += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield _as_frame(table.slice(0, chunk_rows))
            rest = table.slice(chunk_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if malformed:
        raise MarketoError("export-malformed", f"{name}: {malformed[0]}")
    if read != finished.number_of_records:
        raise MarketoError(
            "export-count", f"{name}: the file holds {read} records, Marketo's numberOfRecords is {finished.number_of_records}"
        )
    if pending_rows:
        yield _as_frame(pa.Table.from_batches(pending))


def _header(path: str) -> list[str]:
    """The column names of a CSV file's first record (which may be quoted)."""
    with open(path, encoding="utf-8", newline="") as source:
        return next(csv.reader(source), [])


def _as_frame(table: pa.Table) -> pd.DataFrame:
    # Arrow-backed string columns: no Python object per value, and pandas' string methods run in Arrow.
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _replace_invalid_utf8(path: str) -> None:
    """Rewrite the file with U+FFFD for bytes that are not UTF-8, when it has any (a rare, slow path).

    One bad byte must not fail the whole export; the people transform quarantines the rows that
    carry U+FFFD rather than syncing altered text.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as source:
            while block := source.read(1 << 20):  # small blocks: each decodes to a str of up to 4x its size
                decoder.decode(block)
            decoder.decode(b"", final=True)
        return
    except UnicodeDecodeError:
        pass
    cleaned = f"{path}.utf8"
    with open(path, encoding="utf-8", errors="replace", newline="") as source, open(
        cleaned, "w", encoding="utf-8", newline=""
    ) as target:
        shutil.copyfileobj(source, target, _BLOCK_BYTES)
    os.replace(cleaned, path)
