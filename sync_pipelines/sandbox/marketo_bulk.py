"""Bulk Lead Extract jobs of the Marketo sandbox: lifecycle, limits and the CSV file.

A job moves Created -> Queued -> Processing -> Completed (or Canceled/Failed). There are no
background threads: every bulk call first advances the jobs whose time has come. The timing model
(MarketoSandboxConfig): a job stays Queued at least `bulk_queued_seconds`, and longer while 2 jobs
are Processing (Marketo's limit per instance); it then processes for `bulk_processing_seconds` plus
`bulk_seconds_per_1000_rows` per thousand rows. At most 10 jobs may be queued (including
processing): enqueueing one more answers 1029 "Too many jobs in queue". Exported bytes count
against a daily allowance. The CSV is rendered once, vectorised, when the job completes, and cached.

Sandbox convenience: smart list id 1, "All People", selects every lead without a date window,
mirroring a real instance's all-people smart list, so a client can export everything in one job.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .marketo_fields import format_timestamp, parse_timestamp
from .marketo_errors import MarketoError
from .marketo_state import MarketoSandbox

# The sandbox's smart lists: id -> name. 2 holds the people a deployment syncs (a Lead or Contact Owner).
SMART_LISTS = {1: "All People", 2: "Sales-owned People"}
MAX_PROCESSING = 2
MAX_QUEUED = 10  # queued including processing
MAX_WINDOW = timedelta(days=31)
LIST_RETENTION = timedelta(days=7)
DATE_FILTERS = ("createdAt", "updatedAt")
FILTER_KEYS = frozenset({*DATE_FILTERS, "staticListId", "staticListName", "smartListId",
                         "smartListName"})


@dataclass
class ExportJob:
    """One Bulk Lead Extract job; `content` holds the finished file."""

    export_id: str
    fields: list[str]
    filter: dict[str, Any]
    format: str
    created_at: datetime
    status: str = "Created"
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    number_of_records: int | None = None
    file_size: int | None = None
    file_checksum: str | None = None
    error_msg: str | None = None
    content: bytes | None = field(default=None, repr=False)
    rendering: bool = False

    def to_json(self) -> dict:
        """The ExportResponse object of the Marketo API (absent values omitted)."""
        body = {
            "exportId": self.export_id,
            "format": self.format,
            "status": self.status,
            "createdAt": format_timestamp(self.created_at),
            "queuedAt": self.queued_at and format_timestamp(self.queued_at),
            "startedAt": self.started_at and format_timestamp(self.started_at),
            "finishedAt": self.finished_at and format_timestamp(self.finished_at),
            "numberOfRecords": self.number_of_records,
            "fileSize": self.file_size,
            "fileChecksum": self.file_checksum,
            "errorMsg": self.error_msg,
        }
        return {key: value for key, value in body.items() if value is not None}


class BulkLeadExports:
    """The export jobs of one sandbox; shares the sandbox lock and reads its leads."""

    def __init__(self, sandbox: MarketoSandbox):
        self._sandbox = sandbox
        self._jobs: dict[str, ExportJob] = {}
        # time.monotonic() when each job was queued, and when it is due to complete once Processing.
        self._queued_clock: dict[str, float] = {}
        self._due_clock: dict[str, float] = {}
        self._day: Any = None
        self._exported_bytes = 0

    # ----- API operations ---------------------------------------------------------------------

    def create(self, body: dict) -> ExportJob:
        """Validate a create request (fields, format, exactly one filter) and store the job."""
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields:
            raise MarketoError("1003", "fields is required: a non-empty list of field names")
        unknown = [name for name in fields if not self._sandbox.has_lead_field(name)]
        if unknown:
            raise MarketoError("1003", f"Invalid fields: {', '.join(map(str, unknown))}")
        export_format = str(body.get("format") or "CSV").upper()
        if export_format != "CSV":
            raise MarketoError("1003", "The sandbox exports CSV only")
        job_filter = _validated_filter(body.get("filter"))
        job = ExportJob(str(uuid.uuid4()), list(fields), job_filter, export_format,
                        created_at=self._sandbox.now())
        with self._sandbox.lock:
            self._jobs[job.export_id] = job
        return job

    def enqueue(self, export_id: str) -> ExportJob:
        """Queue a Created job, unless the queue is full or today's export bytes are spent."""
        self.advance()
        with self._sandbox.lock:
            job = self._job(export_id)
            if job.status in ("Queued", "Processing"):
                raise MarketoError("1029", "Job already queued")
            if job.status != "Created":
                raise MarketoError("1003", f"Job is {job.status}; only Created jobs can be queued")
            if self._bytes_today() >= self._sandbox.config.bulk_daily_export_bytes:
                raise MarketoError("1029", "Export daily quota exceeded")
            if self._count("Queued", "Processing") >= MAX_QUEUED:
                raise MarketoError("1029", "Too many jobs in queue")
            job.status, job.queued_at = "Queued", self._sandbox.now()
            self._queued_clock[job.export_id] = time.monotonic()
        return job  # still Queued: a slot is taken on the next call, as a poll would show

    def status(self, export_id: str) -> ExportJob:
        """The job after advancing every job whose processing time has passed."""
        self.advance()
        with self._sandbox.lock:
            return self._job(export_id)

    def cancel(self, export_id: str) -> ExportJob:
        """Cancel a job that has not finished."""
        self.advance()
        with self._sandbox.lock:
            job = self._job(export_id)
            if job.status in ("Created", "Queued", "Processing"):
                job.status = "Canceled"
                job.content = None
        self.advance()
        return job

    def file(self, export_id: str) -> bytes | None:
        """The finished file, or None while the job is not Completed (or unknown)."""
        self.advance()
        with self._sandbox.lock:
            job = self._jobs.get(export_id)
            return job.content if job is not None and job.status == "Completed" else None

    def list_jobs(self, statuses: set[str] | None) -> list[ExportJob]:
        """Jobs created in the last 7 days, oldest first, optionally narrowed to some statuses."""
        self.advance()
        cutoff = self._sandbox.now() - LIST_RETENTION
        with self._sandbox.lock:
            return [job for job in self._jobs.values() if job.created_at >= cutoff
                    and (not statuses or job.status in statuses)]

    # ----- lifecycle --------------------------------------------------------------------------

    def advance(self) -> None:
        """Promote queued jobs and complete the due ones; render files outside the lock."""
        due: list[tuple[ExportJob, pd.DataFrame]] = []
        with self._sandbox.lock:
            self._promote_queued()
            for job in self._jobs.values():
                if job.status == "Processing" and not job.rendering and self._stage_done(job):
                    job.rendering = True
                    due.append((job, self._select(job)))
        for job, frame in due:
            self._finish(job, frame)

    def _stage_done(self, job: ExportJob) -> bool:
        """A Processing job completes at the time fixed when it started (see `_promote_queued`)."""
        return time.monotonic() >= self._due_clock[job.export_id]

    def _promote_queued(self) -> None:
        """Start queued jobs, oldest first, at the moment a real instance would have started them.

        A job starts when its queue time is over and one of the MAX_PROCESSING slots is free; a slot
        frees when its job's processing time ends, whether or not a client has called since. So the
        timeline does not depend on how often clients poll, though it is only computed when they call.
        """
        config = self._sandbox.config
        clock = time.monotonic()
        processing = sorted(self._due_clock[j.export_id] for j in self._jobs.values() if j.status == "Processing")
        slots_free_at = ([0.0] * MAX_PROCESSING + processing)[-MAX_PROCESSING:]
        queued = sorted((j for j in self._jobs.values() if j.status == "Queued"),
                        key=lambda j: self._queued_clock[j.export_id])
        for job in queued:
            slots_free_at.sort()
            start = max(self._queued_clock[job.export_id] + config.bulk_queued_seconds, slots_free_at[0])
            if start > clock:
                return  # the queue is first in, first out: the jobs behind this one wait too
            rows = int(self._mask(job).sum())
            due = start + config.bulk_processing_seconds + config.bulk_seconds_per_1000_rows * rows / 1000
            job.status = "Processing"
            job.started_at = self._sandbox.now() - timedelta(seconds=clock - start)
            self._due_clock[job.export_id] = slots_free_at[0] = due

    def _finish(self, job: ExportJob, frame: pd.DataFrame) -> None:
        try:
            content = render_csv(frame)
            error = None
            # Sandbox hooks: raw rows placed by a test, and a job that fails by the fault plan.
            extra = [render(job.fields) for render in self._sandbox.raw_export_lines]
            content += b"".join(extra)
            if self._sandbox.draw_fault("bulk_export_failed"):
                content, error = None, "Export failed: internal error (injected)"
        except Exception as exc:  # a rendering bug must fail the job, as Marketo would
            content, error = None, f"File generation failed: {type(exc).__name__}"
        with self._sandbox.lock:
            job.rendering = False
            if job.status != "Processing":  # canceled while rendering
                return
            job.finished_at = self._sandbox.now()
            if content is None:
                job.status, job.error_msg = "Failed", error
            else:
                job.status, job.content = "Completed", content
                job.number_of_records = len(frame) + sum(1 for line in extra if line)
                job.file_size = len(content)
                job.file_checksum = "sha256:" + hashlib.sha256(content).hexdigest()
                self._bytes_today()
                self._exported_bytes += len(content)
            self._promote_queued()

    def _mask(self, job: ExportJob) -> np.ndarray:
        """Which leads a job exports (called under the lock)."""
        leads = self._sandbox.lead_frame()
        job_filter = job.filter
        if job_filter.get("smartListId") == 1:
            return np.ones(len(leads), dtype=bool)
        if job_filter.get("smartListId") == 2:
            return leads["sfdcLeadOwnerId"].fillna("").ne("").to_numpy()
        (column, window), = job_filter.items()
        values = leads[column]
        return ((values >= parse_timestamp(window["startAt"]))
                & (values <= parse_timestamp(window["endAt"]))).to_numpy()

    def _select(self, job: ExportJob) -> pd.DataFrame:
        """The rows and columns a job exports (called under the lock; returns a copy)."""
        leads = self._sandbox.lead_frame()
        selected = leads.loc[self._mask(job)]
        return pd.DataFrame({name: (selected.index.to_numpy() if name == "id" else selected[name])
                             for name in job.fields}).reset_index(drop=True)

    def _job(self, export_id: str) -> ExportJob:
        job = self._jobs.get(export_id)
        if job is None:
            raise MarketoError("1003", f"Export job '{export_id}' not found")
        return job

    def _count(self, *statuses: str) -> int:
        return sum(1 for job in self._jobs.values() if job.status in statuses)

    def _bytes_today(self) -> int:
        day = self._sandbox.marketo_day()
        if day != self._day:
            self._day, self._exported_bytes = day, 0
        return self._exported_bytes


def _validated_filter(job_filter: Any) -> dict:
    """Exactly one supported filter; date windows need zones, start <= end, and <= 31 days."""
    if not isinstance(job_filter, dict) or len(job_filter) != 1 or not set(job_filter) <= FILTER_KEYS:
        raise MarketoError("1003", "filter must hold exactly one of: "
                           + ", ".join(sorted(FILTER_KEYS)))
    (name, value), = job_filter.items()
    if name in DATE_FILTERS:
        if not isinstance(value, dict) or not {"startAt", "endAt"} <= set(value):
            raise MarketoError("1003", f"{name} filter needs startAt and endAt")
        try:
            start, end = parse_timestamp(value["startAt"]), parse_timestamp(value["endAt"])
        except (ValueError, TypeError):
            raise MarketoError("1003",
                               f"{name} startAt/endAt must be ISO-8601 with a zone") from None
        if end < start:
            raise MarketoError("1003", f"{name}.endAt is before startAt")
        if end - start > MAX_WINDOW:
            raise MarketoError("1003", f"{name} date range exceeds the maximum of 31 days")
        return {name: {"startAt": value["startAt"], "endAt": value["endAt"]}}
    for list_id, list_name in SMART_LISTS.items():
        if (name == "smartListId" and str(value) == str(list_id)) or (name == "smartListName" and value == list_name):
            return {"smartListId": list_id}
    known = ", ".join(f"{list_id} ({list_name})" for list_id, list_name in SMART_LISTS.items())
    raise MarketoError("1003", f"{name} '{value}' not found (the sandbox has smart lists {known})")


def render_csv(frame: pd.DataFrame) -> bytes:
    """Marketo's export format: header of field names, `null` for empty, true/false, ISO Z times.

    RFC 4180 quoting (only values holding a comma, quote, CR or LF are quoted; quotes doubled) and
    CRLF row ends. Built column-wise with Arrow compute kernels: about 1 s per million leads.
    """
    header = ",".join(_quoted_if_needed(name) for name in frame.columns) + "\r\n"
    if frame.empty:
        return header.encode("utf-8")
    cells = [_csv_cells(frame[name]) for name in frame.columns]
    cells[-1] = pc.binary_join_element_wise(cells[-1], "\r\n", "")
    rows = pc.binary_join_element_wise(*cells, ",")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    # The rows' data buffer is the file body: every row already ends with CRLF.
    offset_type = np.int64 if pa.types.is_large_string(rows.type) else np.int32
    offsets = np.frombuffer(rows.buffers()[1], dtype=offset_type)[rows.offset:
                                                                   rows.offset + len(rows) + 1]
    body = memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]
    return b"".join([header.encode("utf-8"), body])


def _csv_cells(column: pd.Series) -> pa.Array:
    """One column as CSV cell texts (no nulls left: empty values become `null`)."""
    if column.dtype == bool:
        return pa.array(np.where(column.to_numpy(), "true", "false"))
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        # UTC wall time truncated to seconds; Arrow's cast to text is far faster than strftime.
        seconds = pa.array(column).cast(pa.timestamp("s", "UTC"), safe=False)
        text = seconds.cast(pa.timestamp("s")).cast(pa.string())  # "2025-01-31 12:00:00"
        iso = pc.binary_join_element_wise(pc.replace_substring(text, " ", "T"), "Z", "")
        return pc.fill_null(iso, "null")
    if column.dtype.kind in "iuf":
        return pc.fill_null(pa.array(column).cast(pa.string()), "null")
    text = pa.array(column.astype(object), type=pa.string(), from_pandas=True)
    needs_quotes = pc.match_substring_regex(text, '[",\r\n]')
    if pc.any(needs_quotes).as_py():
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(needs_quotes, quoted, text)
    return pc.fill_null(text, "null")


def _quoted_if_needed(text: str) -> str:
    if any(ch in text for ch in '",\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
