"""Bulk Lead Extract through MarketoClient: windows, pipelining, faults, parsing, clean-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pandas as pd
import pytest

from sync_pipelines.marketo import MarketoClient, MarketoError, MarketoQuotaExceeded
from sync_pipelines.sandbox.marketo_fields import LEAD_FIELDS
from sync_pipelines.sandbox.servers import MarketoSandboxConfig, serve_marketo

ALL_FIELDS = [field.name for field in LEAD_FIELDS]
SANDBOX_FROM = datetime(2025, 1, 1, tzinfo=timezone.utc)
SANDBOX_UNTIL = datetime(2026, 7, 1, tzinfo=timezone.utc)


def sandbox_config(**overrides) -> MarketoSandboxConfig:
    # A generous rate limit: these tests are about exports, not throttling.
    return MarketoSandboxConfig(**{"size": 400, "bulk_processing_seconds": 0.05, "calls_per_window": 1000, **overrides})


@pytest.fixture
def mk():
    with serve_marketo(sandbox_config()) as server:
        yield server


def make_client(mk) -> MarketoClient:
    return MarketoClient(
        mk.url, mk.client_id, mk.client_secret, calls_per_window=1000, bulk_poll_max_seconds=0.02,
        retry_backoff_seconds=0.01,
    )


def as_marketo_text(people: pd.DataFrame) -> pd.DataFrame:
    """The sandbox's leads as an export shows them: strings, true/false, ISO Z times, NA for empty."""
    text = pd.DataFrame(index=people.index)
    for name in people.columns:
        column = people[name]
        if column.dtype == bool:
            text[name] = column.map({True: "true", False: "false"})
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            text[name] = column.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            text[name] = column.map(lambda v: None if v is None or pd.isna(v) else str(v))
    return text.astype(object).where(text.notna(), None)


def test_export_over_many_windows_equals_the_sandbox(mk, tmp_path):
    with make_client(mk) as client:
        frames = list(client.export_leads(
            ALL_FIELDS, created_from=SANDBOX_FROM, created_until=SANDBOX_UNTIL, chunk_rows=40, workdir=str(tmp_path)
        ))
    assert mk.sandbox.calls_by_path["/bulk/v1/leads/export/create.json"] == 18  # 18 months in <=31-day windows
    assert all(len(frame) <= 40 for frame in frames)
    got = pd.concat(frames, ignore_index=True)
    assert list(got.columns) == ALL_FIELDS
    assert got["id"].is_unique
    expected = as_marketo_text(mk.sandbox.leads())
    got = got.astype(object).where(got.notna(), None)
    pd.testing.assert_frame_equal(
        got.sort_values("id", key=lambda s: s.astype(int)).reset_index(drop=True),
        expected.reset_index(drop=True),
    )
    # Odd values (quotes, commas, CR/LF, emoji, Japanese) came through unchanged.
    assert got["title"].str.contains("\n", regex=False).any()
    assert list(tmp_path.iterdir()) == []  # temp files deleted


def test_lead_on_a_window_boundary_is_yielded_once(mk):
    people = mk.sandbox.leads()
    boundary_lead = people.iloc[150]
    boundary = boundary_lead["createdAt"].to_pydatetime()
    # Windows [b - 31d, b] and [b, b + 31d]: Marketo's inclusive endAt puts the lead in both.
    with make_client(mk) as client:
        got = pd.concat(client.export_leads(
            ["id", "email"], created_from=boundary - timedelta(days=31), created_until=boundary + timedelta(days=31)
        ))
    assert list(got.columns) == ["id", "email"]  # createdAt was fetched for the dedupe only
    assert (got["id"] == str(boundary_lead["id"])).sum() == 1
    window = people[people["createdAt"].between(boundary - timedelta(days=31), boundary + timedelta(days=31))]
    assert sorted(got["id"].astype(int)) == sorted(window["id"])


def test_export_survives_a_full_queue_and_a_5xx(mk):
    mk.sandbox.inject_errors("1029", 2, path_prefix="/bulk/v1/leads/export/create.json")
    mk.sandbox.inject_errors("5xx", 1, path_prefix="/bulk/v1/leads/export/")
    with make_client(mk) as client:
        got = pd.concat(client.export_leads(["id"], created_from=SANDBOX_FROM, created_until=SANDBOX_UNTIL))
    assert sorted(got["id"].astype(int)) == sorted(mk.sandbox.leads()["id"])


def test_export_daily_quota_raises_quota_exceeded(tmp_path):
    with serve_marketo(sandbox_config(bulk_daily_export_bytes=1)) as mk, make_client(mk) as client:
        with pytest.raises(MarketoQuotaExceeded):
            list(client.export_leads(
                ["id"], created_from=SANDBOX_FROM, created_until=SANDBOX_UNTIL, workdir=str(tmp_path)
            ))
    assert list(tmp_path.iterdir()) == []


def test_smart_list_export_returns_everyone(mk):
    with make_client(mk) as client:
        assert client.export_wait_seconds == 0
        got = pd.concat(client.export_leads_from_smart_list(["id", "company"], 1, chunk_rows=100))
        # The job cannot complete before the sandbox's processing time: that wait is Marketo's, reported apart.
        assert client.export_wait_seconds >= sandbox_config().bulk_processing_seconds
    assert sorted(got["id"].astype(int)) == sorted(mk.sandbox.leads()["id"])


def test_a_row_with_the_wrong_number_of_fields_fails_the_export_clearly_without_its_text(mk, tmp_path):
    mk.sandbox.add_raw_export_line(lambda fields: b"999999,Secret Person,extra,cells,here\n")
    with make_client(mk) as client, pytest.raises(MarketoError) as failure:
        list(client.export_leads_from_smart_list(["id", "company"], 1, chunk_rows=100, workdir=str(tmp_path)))
    assert failure.value.code == "export-malformed"
    assert "has 5 fields, expected 2" in str(failure.value)
    assert "Secret" not in str(failure.value)
    assert list(tmp_path.iterdir()) == []


def test_stopping_early_deletes_files_and_cancels_jobs(mk, tmp_path):
    with make_client(mk) as client:
        frames = client.export_leads(
            ["id"], created_from=SANDBOX_FROM, created_until=SANDBOX_UNTIL, chunk_rows=5, workdir=str(tmp_path)
        )
        next(frames)
        frames.close()
    assert list(tmp_path.iterdir()) == []
    params = {"grant_type": "client_credentials", "client_id": mk.client_id, "client_secret": mk.client_secret}
    token = httpx.get(f"{mk.url}/identity/oauth/token", params=params).json()["access_token"]
    open_jobs = httpx.get(
        f"{mk.url}/bulk/v1/leads/export.json",
        params={"status": "Queued,Processing"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["result"]
    assert open_jobs == []


def test_dropped_download_resumes_with_a_range_request(tmp_path):
    """A proxy-less fault: the first file download dies halfway; the client resumes from that byte."""
    from sync_pipelines.sandbox.marketo_app import create_marketo_app
    from sync_pipelines.sandbox.marketo_state import MarketoSandbox
    from sync_pipelines.sandbox.servers import serve

    sandbox = MarketoSandbox(sandbox_config())
    app = create_marketo_app(sandbox)
    range_headers: list[str] = []

    async def drop_first_download(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/file.json"):
            return await app(scope, receive, send)
        headers = dict(scope["headers"])
        range_headers.append(headers.get(b"range", b"").decode())
        if len(range_headers) > 1:
            return await app(scope, receive, send)

        async def send_half_then_drop(message):
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
                raise ConnectionAbortedError("simulated dropped connection")
            await send(message)

        return await app(scope, receive, send_half_then_drop)

    with serve(drop_first_download) as running:
        client = MarketoClient(running.url, sandbox.config.client_id, sandbox.config.client_secret,
                               bulk_poll_max_seconds=0.02, retry_backoff_seconds=0.01, calls_per_window=1000)
        with client:
            got = pd.concat(client.export_leads_from_smart_list(ALL_FIELDS, 1))
    assert range_headers[0] == "" and range_headers[1].startswith("bytes=") and range_headers[1] != "bytes=0-"
    expected = as_marketo_text(sandbox.leads())
    got = got.astype(object).where(got.notna(), None)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


def serve_rewritten(sandbox, rewrite_file):
    """The sandbox behind a proxy that drops fileChecksum from export statuses and rewrites each file."""
    import json

    from sync_pipelines.sandbox.marketo_app import create_marketo_app
    from sync_pipelines.sandbox.servers import serve

    app = create_marketo_app(sandbox)

    async def rewriting(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.endswith(("/file.json", "/status.json")):
            return await app(scope, receive, send)
        start, body = {}, bytearray()

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            new = bytes(body)
            if path.endswith("/status.json"):
                answer = json.loads(new)
                for status in answer.get("result") or []:
                    status.pop("fileChecksum", None)
                new = json.dumps(answer).encode()
            elif start["status"] == 200:
                new = rewrite_file(new)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(new)).encode())]})
            await send({"type": "http.response.body", "body": new})

        return await app(scope, receive, capture)

    return serve(rewriting)


def rewritten_export(rewrite_file, fields):
    from sync_pipelines.sandbox.marketo_state import MarketoSandbox

    sandbox = MarketoSandbox(sandbox_config())
    with serve_rewritten(sandbox, rewrite_file) as running:
        client = MarketoClient(running.url, sandbox.config.client_id, sandbox.config.client_secret,
                               bulk_poll_max_seconds=0.02, retry_backoff_seconds=0.01, calls_per_window=1000)
        with client:
            return list(client.export_leads_from_smart_list(fields, 1))


def test_a_file_whose_header_lacks_a_requested_field_fails_the_export():
    """Regression (issue 19): a renamed sfdcLeadOwnerId column used to read as an empty owner for everyone."""
    def rename_owner_column(content: bytes) -> bytes:
        header, rest = content.split(b"\r\n", 1)
        return header.replace(b"sfdcLeadOwnerId", b"sfdcLeadOwnerID") + b"\r\n" + rest

    with pytest.raises(MarketoError) as failure:
        rewritten_export(rename_owner_column, ["id", "sfdcLeadOwnerId"])
    assert failure.value.code == "export-header"
    assert "lacks the requested field(s) sfdcLeadOwnerId" in str(failure.value)


def test_a_file_shorter_than_numberOfRecords_fails_the_export():
    """Regression (issue 19): a short file without a checksum used to pass, and its missing people were removed."""
    def drop_last_record(content: bytes) -> bytes:
        return content[: content.rstrip(b"\r\n").rfind(b"\r\n") + 2]

    with pytest.raises(MarketoError) as failure:
        rewritten_export(drop_last_record, ["id", "email"])
    assert failure.value.code == "export-count"
    assert "the file holds 399 records, Marketo's numberOfRecords is 400" in str(failure.value)


def test_a_stuck_export_fails_at_its_deadline_with_a_clear_message_and_is_canceled():
    """Regression (issue 19): a job that never finishes used to be polled forever."""
    with serve_marketo(sandbox_config(bulk_processing_seconds=3600)) as mk:
        client = MarketoClient(mk.url, mk.client_id, mk.client_secret, calls_per_window=1000,
                               bulk_poll_max_seconds=0.02, bulk_job_timeout_seconds=0.3)
        with client, pytest.raises(MarketoError) as failure:
            list(client.export_leads_from_smart_list(["id"], 1))
        cancels = sum(count for path, count in mk.sandbox.calls_by_path.items() if path.endswith("/cancel.json"))
    assert failure.value.code == "export-timeout"
    assert "still Processing" in str(failure.value) and "MARKETO_BULK_EXPORT_TIMEOUT_SECONDS" in str(failure.value)
    assert cancels == 1


def test_a_job_of_an_earlier_run_is_reattached_not_created_again(mk):
    """An exportId recorded by a killed run is reused: no new job, the same rows."""
    from sync_pipelines.marketo.bulk import ExportRequest

    window = {"smartListId": 1}
    created: list[str] = []
    with make_client(mk) as client:
        first = [frame for finished in client.run_exports(
            ["id"], [ExportRequest(0, window)], on_created=lambda key, export_id: created.append(export_id))
            for frame in client.read_export(finished, ["id"])]
        creates_before = mk.sandbox.calls_by_path["/bulk/v1/leads/export/create.json"]
        again = [frame for finished in client.run_exports(["id"], [ExportRequest(0, window, created[0])])
                 for frame in client.read_export(finished, ["id"])]
        assert client.export_stats.jobs_reattached == 1
    assert mk.sandbox.calls_by_path["/bulk/v1/leads/export/create.json"] == creates_before == 1
    pd.testing.assert_frame_equal(pd.concat(first), pd.concat(again))
