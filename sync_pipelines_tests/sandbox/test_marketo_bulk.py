"""Bulk Lead Extract of the Marketo sandbox: lifecycle, CSV format, Range, limits."""

import hashlib
import io
import time

import httpx
import pandas as pd

from sync_pipelines_tests.fixtures.marketo import marketo_http_client

EXPORT = "/bulk/v1/leads/export"
HOSTILE = {
    "firstName": 'Robert "Bob", Jr.',
    "lastName": "O'Brien 😀",
    "company": "Café Münster, \"GmbH\"",
    "title": "Head of Sales\nEMEA\r\nand APAC",
    "email": "bob@example.com",
}


def _create(client, filter_, fields=("id", "firstName")) -> dict:
    return client.post(f"{EXPORT}/create.json",
                       json={"fields": list(fields), "format": "CSV", "filter": filter_}).json()


def _create_and_enqueue(client, filter_=None, fields=("id", "firstName")) -> str:
    created = _create(client, filter_ or {"smartListId": 1}, fields)
    assert created["success"], created
    export_id = created["result"][0]["exportId"]
    enqueued = client.post(f"{EXPORT}/{export_id}/enqueue.json").json()
    assert enqueued["success"], enqueued
    return export_id


def _wait_for(client, export_id, wanted="Completed") -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = client.get(f"{EXPORT}/{export_id}/status.json").json()["result"][0]
        if status["status"] == wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} never reached {wanted}: {status}")


def test_lifecycle_and_csv_round_trip(marketo_sandbox):
    server = marketo_sandbox
    new_id = server.sandbox.create_lead(**HOSTILE, unsubscribed=True)
    fields = ["id", "firstName", "lastName", "company", "title", "email", "phone",
              "unsubscribed", "createdAt", "sfdcLeadOwnerId"]
    with marketo_http_client(server) as client:
        created = _create(client, {"smartListId": 1}, fields)["result"][0]
        assert created["status"] == "Created" and created["format"] == "CSV"
        export_id = created["exportId"]
        early = client.get(f"{EXPORT}/{export_id}/file.json")
        assert early.status_code == 404 and early.headers["content-type"].startswith("text/plain")
        queued = client.post(f"{EXPORT}/{export_id}/enqueue.json").json()["result"][0]
        assert queued["status"] == "Queued"
        again = client.post(f"{EXPORT}/{export_id}/enqueue.json").json()
        assert again["errors"][0]["code"] == "1029"
        status = _wait_for(client, export_id)
        content = client.get(f"{EXPORT}/{export_id}/file.json").content
        listed = client.get(f"{EXPORT}.json", params={"status": "Completed"}).json()["result"]
    assert status["numberOfRecords"] == 301 and status["fileSize"] == len(content)
    assert status["fileChecksum"] == "sha256:" + hashlib.sha256(content).hexdigest()
    assert {"queuedAt", "startedAt", "finishedAt"} <= set(status)
    assert [job["exportId"] for job in listed] == [export_id]

    text = content.decode()
    assert text.splitlines()[0] == ",".join(fields)
    assert ",null," in text and ",true," in text and ",false," in text
    frame = pd.read_csv(io.BytesIO(content), na_values=["null"], keep_default_na=False)
    row = frame.set_index("id").loc[new_id]
    for name, value in HOSTILE.items():
        assert row[name] == value, name
    assert pd.isna(row["phone"])
    assert row["createdAt"].endswith("Z")
    expected = server.sandbox.leads()
    assert frame["id"].tolist() == expected["id"].tolist()
    assert frame["sfdcLeadOwnerId"].isna().sum() == expected["sfdcLeadOwnerId"].isna().sum()


def test_range_requests(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        export_id = _create_and_enqueue(client)
        _wait_for(client, export_id)
        whole = client.get(f"{EXPORT}/{export_id}/file.json").content
        first = client.get(f"{EXPORT}/{export_id}/file.json", headers={"Range": "bytes=0-99"})
        rest = client.get(f"{EXPORT}/{export_id}/file.json", headers={"Range": "bytes=100-"})
        beyond = client.get(f"{EXPORT}/{export_id}/file.json",
                            headers={"Range": f"bytes={len(whole)}-"})
    assert first.status_code == 206 and rest.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    assert rest.headers["content-range"] == f"bytes 100-{len(whole) - 1}/{len(whole)}"
    assert first.content + rest.content == whole
    assert beyond.status_code == 416


def test_date_filters_window_and_exactly_one_filter(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        january = _create_and_enqueue(client, {"createdAt": {
            "startAt": "2025-01-01T00:00:00Z", "endAt": "2025-01-31T23:59:59Z"}},
            fields=("id", "createdAt"))
        too_long = _create(client, {"updatedAt": {"startAt": "2025-01-01T00:00:00Z",
                                                  "endAt": "2025-02-02T00:00:00Z"}})
        two_filters = _create(client, {"smartListId": 1, "createdAt": {
            "startAt": "2025-01-01T00:00:00Z", "endAt": "2025-01-02T00:00:00Z"}})
        no_filter = _create(client, {})
        unknown_list = _create(client, {"smartListId": 99})
        _wait_for(client, january)
        content = client.get(f"{EXPORT}/{january}/file.json").content
    assert too_long["errors"][0]["code"] == "1003" and "31 days" in too_long["errors"][0]["message"]
    for refused in (two_filters, no_filter, unknown_list):
        assert refused["success"] is False and refused["errors"][0]["code"] == "1003"
    frame = pd.read_csv(io.BytesIO(content), na_values=["null"], keep_default_na=False)
    created = pd.to_datetime(frame["createdAt"], utc=True)
    leads = marketo_sandbox.sandbox.leads()
    expected = leads[leads["createdAt"] < pd.Timestamp("2025-02-01T00:00:00Z")]
    assert len(frame) == len(expected) > 0
    assert created.max() < pd.Timestamp("2025-02-01T00:00:00Z")


def test_queue_limits_and_cancel(make_marketo_sandbox):
    server = make_marketo_sandbox(bulk_processing_seconds=600)
    with marketo_http_client(server) as client:
        jobs = [_create_and_enqueue(client) for _ in range(10)]
        statuses = [client.get(f"{EXPORT}/{j}/status.json").json()["result"][0]["status"]
                    for j in jobs]
        extra = _create(client, {"smartListId": 1})["result"][0]["exportId"]
        refused = client.post(f"{EXPORT}/{extra}/enqueue.json").json()
        canceled = client.post(f"{EXPORT}/{jobs[0]}/cancel.json").json()["result"][0]
        accepted = client.post(f"{EXPORT}/{extra}/enqueue.json").json()
        after_cancel = [client.get(f"{EXPORT}/{j}/status.json").json()["result"][0]["status"]
                        for j in jobs[1:4]]
    assert statuses.count("Processing") == 2 and statuses.count("Queued") == 8
    assert refused["errors"][0] == {"code": "1029", "message": "Too many jobs in queue"}
    assert canceled["status"] == "Canceled"
    assert accepted["success"] is True
    assert after_cancel == ["Processing", "Processing", "Queued"]


def test_daily_export_bytes_quota(make_marketo_sandbox):
    server = make_marketo_sandbox(bulk_daily_export_bytes=1000)
    with marketo_http_client(server) as client:
        first = _create_and_enqueue(client)
        assert _wait_for(client, first)["fileSize"] > 1000
        second = _create(client, {"smartListId": 1})["result"][0]["exportId"]
        refused = client.post(f"{EXPORT}/{second}/enqueue.json").json()
    assert refused["errors"][0] == {"code": "1029", "message": "Export daily quota exceeded"}


def test_bulk_calls_need_a_token(marketo_sandbox):
    body = httpx.post(f"{marketo_sandbox.url}{EXPORT}/create.json",
                      json={"fields": ["id"], "filter": {"smartListId": 1}}).json()
    assert body["errors"][0]["code"] == "600"


def test_csv_format_is_marketo_like():
    from sync_pipelines.sandbox.marketo_bulk import render_csv
    frame = pd.DataFrame({
        "id": [1, 2],
        "title": ['say "hi", ok', None],
        "email": ["a@example.com", "b@example.com"],
        "unsubscribed": [True, False],
        "updatedAt": pd.to_datetime(["2025-03-01T10:00:00.7Z", "2025-03-02T00:00:00Z"],
                                    utc=True, format="ISO8601"),
    })
    assert render_csv(frame).decode() == (
        "id,title,email,unsubscribed,updatedAt\r\n"
        '1,"say ""hi"", ok",a@example.com,true,2025-03-01T10:00:00Z\r\n'
        "2,null,b@example.com,false,2025-03-02T00:00:00Z\r\n")


def test_jobs_wait_their_queue_time_then_process_two_at_a_time(make_marketo_sandbox):
    """The timing model: Queued for bulk_queued_seconds, then 2 Processing at once for their processing time."""
    server = make_marketo_sandbox(bulk_queued_seconds=0.5, bulk_processing_seconds=600)
    with marketo_http_client(server) as client:
        jobs = [_create_and_enqueue(client) for _ in range(3)]

        def statuses():
            return [client.get(f"{EXPORT}/{j}/status.json").json()["result"][0]["status"] for j in jobs]

        during_queue_time = statuses()
        _wait_for(client, jobs[1], wanted="Processing")
        after_queue_time = statuses()
    assert during_queue_time == ["Queued", "Queued", "Queued"]
    assert after_queue_time == ["Processing", "Processing", "Queued"]


def test_processing_time_grows_with_rows(make_marketo_sandbox):
    """bulk_seconds_per_1000_rows: a window with rows takes longer than an empty one."""
    server = make_marketo_sandbox(bulk_processing_seconds=0.0, bulk_seconds_per_1000_rows=2000)
    empty_window = {"createdAt": {"startAt": "2020-01-01T00:00:00Z", "endAt": "2020-01-31T00:00:00Z"}}
    with marketo_http_client(server) as client:
        full, empty = _create_and_enqueue(client), _create_and_enqueue(client, empty_window)
        finished = _wait_for(client, empty)
        still = client.get(f"{EXPORT}/{full}/status.json").json()["result"][0]
    assert finished["numberOfRecords"] == 0
    assert still["status"] == "Processing"  # 300 rows at 2 s per row
