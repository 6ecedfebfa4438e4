"""`MarketoClient`: the Marketo REST and Bulk Lead Extract calls the sync needs.

Every call shares one token, one throttle (calls per window + calls in flight) and one counter, so
several assets using the same client stay inside the instance's limits together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from sync_pipelines.chunks import chunked

from .api import MarketoApi
from .bulk import ExportRequest, ExportStats, FinishedExport, LeadExporter, read_export
from .custom_activities import CustomActivitiesApi
from .dates import marketo_datetime
from .errors import MarketoSchemaError
from .limiter import CallLimiter

MAX_FILTER_VALUES = 300  # Get Leads by Filter Type accepts at most 300 values per call
MAX_BATCH_SIZE = 300
MAX_ACTIVITY_TYPE_IDS = 10  # activities.json accepts at most 10 activityTypeIds per call


@dataclass(frozen=True)
class LeadChangePage:
    """One page of Data Value Change / New Lead activities; persist `next_token` to resume."""

    records: list[dict]
    next_token: str


@dataclass(frozen=True)
class ActivityPage:
    """One page of activities (or deleted leads); persist `next_token` to resume."""

    records: list[dict]
    next_token: str


class MarketoClient:
    """Thread-safe Marketo client; use as a context manager or call `close()`."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        calls_per_window: int = 50,
        window_seconds: float = 20.0,
        max_concurrent: int = 5,
        daily_call_budget: int | None = None,
        bulk_poll_max_seconds: float = 30.0,
        bulk_job_timeout_seconds: float = 6 * 3600.0,
        timeout_seconds: float = 60.0,
        max_retries: int = 6,
        retry_backoff_seconds: float = 1.0,
        read_only: bool = False,
    ):
        """Defaults follow Adobe's advice for one integration: 50 calls / 20 s, 5 in flight.

        `daily_call_budget` caps the calls this client may send over its lifetime (raises
        MarketoQuotaExceeded when used up). `retry_backoff_seconds` is the first backoff step.
        Bulk export status polls start at 1 s and double up to `bulk_poll_max_seconds`; a job not
        finished `bulk_job_timeout_seconds` after it was queued fails the export with a clear message.
        `read_only` (a dry run): every write (custom activity types and inserts) raises MarketoReadOnlyError
        before anything is sent; reads, bulk exports included, work as usual.
        """
        self.base_url = base_url  # the instance root (org pinning reads its Munchkin id)
        limiter = CallLimiter(calls_per_window, window_seconds, max_concurrent)
        self._api = MarketoApi(
            base_url,
            client_id,
            client_secret,
            limiter=limiter,
            daily_call_budget=daily_call_budget,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
            retry_backoff_seconds=retry_backoff_seconds,
        )
        self._exporter = LeadExporter(
            self._api, poll_max_seconds=bulk_poll_max_seconds, job_timeout_seconds=bulk_job_timeout_seconds
        )
        self.custom_activities = CustomActivitiesApi(self._api, read_only=read_only)  # types and inserts
        self._describe_lock = threading.Lock()
        self._lead_fields: dict[str, dict] | None = None

    @property
    def calls_used(self) -> int:
        """API calls sent (REST + bulk, retries included, identity excluded) since construction."""
        return self._api.calls_used

    @property
    def export_wait_seconds(self) -> float:
        """Seconds spent waiting for Marketo to finish bulk export jobs (Marketo's time, not ours)."""
        return self._exporter.stats.wait_seconds

    @property
    def export_stats(self) -> ExportStats:
        """Bulk export jobs created and re-attached, status polls and wait, since construction."""
        return self._exporter.stats

    # --- schema ---------------------------------------------------------------------------------

    def lead_fields(self) -> dict[str, dict]:
        """REST field name -> describe entry (`id`, `displayName`, `dataType`, `length`, `readOnly`).

        Fetched once per client (Adobe advises caching describe output).
        """
        with self._describe_lock:
            if self._lead_fields is None:
                body = self._api.get("/rest/v1/leads/describe.json", {})
                self._lead_fields = {
                    entry["rest"]["name"]: _describe_entry(entry)
                    for entry in body.get("result") or []
                    if isinstance(entry.get("rest"), dict) and entry["rest"].get("name")
                }
            return self._lead_fields

    def require_lead_fields(self, names: Iterable[str]) -> None:
        """Raise MarketoSchemaError naming every field of `names` the instance does not have."""
        known = self.lead_fields()
        missing = [name for name in names if name not in known]
        if missing:
            raise MarketoSchemaError(
                "schema", f"the Marketo lead schema has no field(s) {', '.join(missing)} (REST names)"
            )

    # --- leads ----------------------------------------------------------------------------------

    def get_leads(self, filter_type: str, values: Iterable[Any], fields: Sequence[str]) -> pd.DataFrame:
        """Leads whose `filter_type` field equals one of `values`: one row each, columns = `fields`.

        Values go 300 per call, pages are followed, and a long query switches to POST. Values
        keep their JSON types (ints, bools, strings); a field absent from a record is NA.
        """
        fields = list(fields)
        rows: list[dict] = []
        for chunk in chunked(list(values), MAX_FILTER_VALUES):
            params: dict[str, Any] = {
                "filterType": filter_type,
                "filterValues": ",".join(str(v) for v in chunk),
                "fields": ",".join(fields),
                "batchSize": MAX_BATCH_SIZE,
            }
            while True:
                body = self._api.get("/rest/v1/leads.json", params)
                page = body.get("result") or []
                rows.extend(_without_lone_surrogates(record) for record in page)
                next_token = body.get("nextPageToken")
                if not next_token or not page:
                    break
                params = {**params, "nextPageToken": next_token}
        return pd.DataFrame.from_records(rows, columns=fields)

    # --- incremental feeds (paging tokens) ------------------------------------------------------

    def paging_token(self, since: datetime) -> str:
        """A paging token for activities from `since` on (naive datetimes are taken as UTC)."""
        body = self._api.get("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": marketo_datetime(since)})
        return body["nextPageToken"]

    def lead_changes(self, token: str, fields: Sequence[str]) -> Iterator[LeadChangePage]:
        """Data Value Change and New Lead activities touching `fields`, page by page from `token`."""
        params = {"fields": ",".join(fields), "batchSize": MAX_BATCH_SIZE}
        for records, next_token in self._activity_pages("/rest/v1/activities/leadchanges.json", token, params):
            yield LeadChangePage(records, next_token)

    def deleted_leads(self, token: str) -> Iterator[ActivityPage]:
        """Delete Lead activities (leads deleted or merged away), page by page from `token`."""
        params = {"batchSize": MAX_BATCH_SIZE}
        for records, next_token in self._activity_pages("/rest/v1/activities/deletedleads.json", token, params):
            yield ActivityPage(records, next_token)

    def activities(self, token: str, activity_type_ids: Sequence[int]) -> Iterator[ActivityPage]:
        """Activities of the given types from `token` on.

        Marketo takes 10 type ids per call: with more, each group of 10 is read in turn from
        `token`, so a resumable `next_token` exists only when you pass at most 10 ids.
        """
        for group in chunked(list(activity_type_ids), MAX_ACTIVITY_TYPE_IDS):
            params = {"activityTypeIds": ",".join(str(i) for i in group), "batchSize": MAX_BATCH_SIZE}
            for records, next_token in self._activity_pages("/rest/v1/activities.json", token, params):
                yield ActivityPage(records, next_token)

    def _activity_pages(self, path: str, token: str, params: dict[str, Any]) -> Iterator[tuple[list[dict], str]]:
        """Follow `nextPageToken` while `moreResult` is true, even past short or empty pages."""
        while True:
            body = self._api.get(path, {**params, "nextPageToken": token})
            token = body.get("nextPageToken") or token
            yield list(body.get("result") or []), token
            if not body.get("moreResult"):
                return

    # --- bulk extract ---------------------------------------------------------------------------

    def export_leads(
        self,
        fields: Sequence[str],
        *,
        created_from: datetime,
        created_until: datetime,
        chunk_rows: int = 100_000,
        workdir: str | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Every lead created in [created_from, created_until), as string DataFrames of at most
        `chunk_rows` rows (Marketo's `null` -> NA). See `LeadExporter.export_created` for the
        windows, the duplicates it removes and the ones the caller must still expect."""
        return self._exporter.export_created(
            list(fields), created_from, created_until, chunk_rows=chunk_rows, workdir=workdir
        )

    def run_exports(
        self,
        fields: Sequence[str],
        requests: Iterable[ExportRequest],
        *,
        workdir: str | None = None,
        on_created: Callable[[int, str], None] | None = None,
    ) -> Iterator[FinishedExport]:
        """Run one lead export job per request, several at once; yield the finished files in order.

        Read each with `read_export(finished, fields, chunk_rows)`. See `LeadExporter.run`.
        """
        return self._exporter.run(list(fields), requests, workdir=workdir, on_created=on_created)

    @staticmethod
    def read_export(finished: FinishedExport, fields: Sequence[str], chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
        """A finished export's rows as string DataFrames, its header and record count checked."""
        return read_export(finished, list(fields), chunk_rows)

    def export_leads_from_smart_list(
        self, fields: Sequence[str], smart_list_id: int, *, chunk_rows: int = 100_000, workdir: str | None = None
    ) -> Iterator[pd.DataFrame]:
        """Every lead of a smart list, in chunks like `export_leads` (1035 if the subscription lacks it)."""
        return self._exporter.export_filtered(
            list(fields), [{"smartListId": smart_list_id}], chunk_rows=chunk_rows, workdir=workdir
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the HTTP connections."""
        self._api.close()

    def __enter__(self) -> MarketoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _describe_entry(entry: dict) -> dict:
    """Flatten one describe.json entry: drop the rest/soap blocks, keep REST's readOnly flag."""
    flat = {key: value for key, value in entry.items() if key not in ("rest", "soap")}
    flat["readOnly"] = bool(entry["rest"].get("readOnly", False))
    return flat


def _without_lone_surrogates(record: dict) -> dict:
    """A lone UTF-16 surrogate (JSON's "\\ud800") becomes U+FFFD, as an undecodable byte of a bulk file does.

    Such a string cannot be encoded as UTF-8, so one of them failed its whole batch, on every retry; marked
    like this, the transforms repair it as they do undecodable bulk bytes (listed in person_repair).
    """
    for name, value in record.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                record[name] = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return record
