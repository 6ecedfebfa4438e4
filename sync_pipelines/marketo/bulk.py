"""Bulk Lead Extract: export jobs, pipelined, downloaded to disk, read back in bounded chunks.

Life of one job: create -> enqueue -> poll status until Completed -> stream the file to a temp
file (Range resume, SHA-256 check) -> parse in chunks -> delete the file.

Waiting for Marketo dominates, so at most two jobs (Marketo runs two at a time per instance) are
kept queued/processing ahead of the reader: while the caller consumes the chunks of one window,
the next window's job is already being processed.
"""

from __future__ import annotations

import codecs
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
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
JOBS_AHEAD = 2  # Marketo processes 2 export jobs at once per instance; queueing more gains nothing
FIRST_POLL_SECONDS = 1.0  # small jobs finish fast; after the first look, poll every poll_seconds
ENQUEUE_ATTEMPTS = 20  # tries while the export queue stays full (about 70 min in production)
BOUNDARY_MARGIN = timedelta(days=1)  # how close to a window's end a lead may reappear in the next window
FAILED_STATES = {"Failed", "Canceled", "Cancelled"}  # Marketo's docs spell it both ways
_BLOCK_BYTES = 4 << 20  # the CSV reader's unit of work: bigger blocks cost memory and gain no speed


class LeadExporter:
    """Runs lead export jobs through one `MarketoApi` and yields their rows as DataFrames."""

    def __init__(self, api: MarketoApi, *, poll_seconds: float):
        self._api = api
        self._poll_seconds = poll_seconds
        self.wait_seconds = 0.0  # time spent waiting for Marketo to finish export jobs

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
        filters = [
            {"createdAt": {"startAt": marketo_datetime(start), "endAt": marketo_datetime(end)}}
            for start, end in windows
        ]
        if "id" not in fields:
            yield from self.export_filtered(fields, filters, chunk_rows=chunk_rows, workdir=workdir)
            return
        # createdAt tells which rows sit near a boundary; fetch it even when the caller did not ask.
        wanted = fields if "createdAt" in fields else [*fields, "createdAt"]
        near_previous_end: set[str] = set()
        near_this_end: set[str] = set()
        current_window = 0
        for window_index, frame in self._jobs(wanted, filters, chunk_rows, workdir):
            if window_index != current_window:
                near_previous_end, near_this_end, current_window = near_this_end, set(), window_index
            frame = frame[~frame["id"].isin(near_previous_end)]
            created = pd.to_datetime(frame["createdAt"], utc=True, errors="coerce", format="ISO8601")
            near_this_end.update(frame.loc[created >= windows[window_index][1] - BOUNDARY_MARGIN, "id"])
            if len(frame):
                yield frame[fields].reset_index(drop=True)

    def export_filtered(
        self, fields: list[str], filters: Iterable[dict], *, chunk_rows: int, workdir: str | None
    ) -> Iterator[pd.DataFrame]:
        """One export job per filter (in order); yields every row of every job in chunks."""
        for _, frame in self._jobs(fields, list(filters), chunk_rows, workdir):
            yield frame

    # --- the job pipeline -----------------------------------------------------------------------

    def _jobs(
        self, fields: list[str], filters: list[dict], chunk_rows: int, workdir: str | None
    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """Yield (filter index, chunk) for each filter in order, keeping JOBS_AHEAD jobs running."""
        upcoming = iter(enumerate(filters))
        running: deque[tuple[int, str]] = deque()  # (filter index, exportId), oldest first
        try:
            self._start_more(running, upcoming, fields)
            while running:
                index, export_id = running[0]
                waiting_since = time.monotonic()
                status = self._wait_until_completed(export_id)
                self.wait_seconds += time.monotonic() - waiting_since
                path = self._download(export_id, status, workdir)
                try:
                    running.popleft()
                    self._start_more(running, upcoming, fields)  # the next job works while we parse
                    for frame in _read_chunks(path, fields, chunk_rows):
                        yield index, frame
                finally:
                    os.remove(path)
        finally:
            # Stopped early (error or the caller closed the generator): free Marketo's queue.
            for _, export_id in running:
                self._cancel_quietly(export_id)

    def _start_more(self, running: deque, upcoming: Iterator[tuple[int, dict]], fields: list[str]) -> None:
        while len(running) < JOBS_AHEAD:
            next_filter = next(upcoming, None)
            if next_filter is None:
                return
            index, export_filter = next_filter
            request = {"fields": fields, "format": "CSV", "filter": export_filter}
            body = self._while_queue_full(lambda: self._api.call("POST", f"{EXPORTS}/create.json", json=request))
            export_id = str(body["result"][0]["exportId"])
            running.append((index, export_id))  # before enqueue, so a failure still cancels it
            self._while_queue_full(lambda: self._enqueue(export_id))

    def _enqueue(self, export_id: str) -> None:
        """Enqueue a Created job; "already queued" (a replayed enqueue) counts as success."""
        try:
            self._api.call("POST", f"{EXPORTS}/{export_id}/enqueue.json")
        except MarketoError as exc:
            if not (exc.code == BULK_QUEUE_CODE and "already queued" in exc.message.lower()):
                raise

    def _while_queue_full(self, operation: Callable[[], T]) -> T:
        """Run `operation`, backing off while Marketo's shared export queue is full (1029).

        Adobe suggests 1 min doubling to 4 min: 2x to 8x the poll interval (30 s by default).
        """
        retrying = Retrying(
            retry=retry_if_exception(_queue_is_full),
            wait=wait_exponential(multiplier=2 * self._poll_seconds, max=8 * self._poll_seconds),
            stop=stop_after_attempt(ENQUEUE_ATTEMPTS),
            reraise=True,
        )
        return retrying(operation)

    def _wait_until_completed(self, export_id: str) -> dict:
        delay = min(FIRST_POLL_SECONDS, self._poll_seconds)
        while True:
            time.sleep(delay)
            status = self._api.call("GET", f"{EXPORTS}/{export_id}/status.json")["result"][0]
            state = status.get("status")
            if state == "Completed":
                return status
            if state in FAILED_STATES:
                raise MarketoError(
                    f"export-{state.lower()}", f"lead export {export_id} ended {state}: {status.get('errorMsg') or ''}"
                )
            delay = self._poll_seconds

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


def _queue_is_full(exc: BaseException) -> bool:
    """1029 "Too many jobs in queue" (not the export quota, not "already queued")."""
    return (
        isinstance(exc, MarketoError)
        and not isinstance(exc, MarketoQuotaExceeded)
        and exc.code == BULK_QUEUE_CODE
        and "already queued" not in exc.message.lower()
    )


def _read_chunks(path: str, fields: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Parse a Marketo CSV in chunks of `chunk_rows`: every value a string, the literal `null` -> NA.

    Arrow's multi-threaded reader streams the file in blocks (quoted commas, quotes and line breaks,
    LF or CRLF, stay inside their values). A field missing from the file reads as NA.
    """
    if os.path.getsize(path) == 0:
        return
    _replace_invalid_utf8(path)
    malformed: list[str] = []

    def refuse_row(row: pa_csv.InvalidRow) -> str:
        # Only the row's position and shape: its text would put personal data in the error.
        malformed.append(f"row {row.number} has {row.actual_columns} fields, expected {row.expected_columns}")
        return "skip"

    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=refuse_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={field: pa.string() for field in fields},
            include_columns=fields,
            include_missing_columns=True,
            null_values=["null"],
            strings_can_be_null=True,
        ),
    )
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        if malformed:
            raise MarketoError("export-malformed", f"{os.path.basename(path)}: {malformed[0]}")
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield _as_frame(table.slice(0, chunk_rows))
            rest = table.slice(chunk_rows)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if malformed:
        raise MarketoError("export-malformed", f"{os.path.basename(path)}: {malformed[0]}")
    if pending_rows:
        yield _as_frame(pa.Table.from_batches(pending))


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
