"""Rate, concurrency and quota limits, and injected faults, of the Marketo sandbox."""

import threading

import httpx

from sync_pipelines_tests.fixtures.marketo import marketo_http_client

DESCRIBE = "/rest/v1/leads/describe.json"


def _error_code(response: httpx.Response) -> str | None:
    body = response.json()
    return None if body["success"] else body["errors"][0]["code"]


def test_606_when_calls_per_window_exceeded(make_marketo_sandbox):
    server = make_marketo_sandbox(calls_per_window=5, window_seconds=60)
    with marketo_http_client(server) as client:
        codes = [_error_code(client.get(DESCRIBE)) for _ in range(7)]
    assert codes == [None] * 5 + ["606", "606"]


def test_607_when_daily_quota_used(make_marketo_sandbox):
    server = make_marketo_sandbox(daily_quota=3)
    with marketo_http_client(server) as client:
        codes = [_error_code(client.get(DESCRIBE)) for _ in range(5)]
    assert codes == [None, None, None, "607", "607"]


def test_615_when_too_many_calls_in_flight(make_marketo_sandbox):
    # Each call stays in flight 2 s, far longer than it takes to start six threads.
    server = make_marketo_sandbox(max_concurrent=2, latency_seconds=2.0)
    codes: list[str | None] = []
    barrier = threading.Barrier(6)
    with marketo_http_client(server) as client:
        def call():
            barrier.wait()
            codes.append(_error_code(client.get(DESCRIBE)))
        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(codes) == 6
    assert "615" in codes and None in codes
    assert codes.count(None) <= 4


def test_injected_errors_hit_matching_paths_then_stop(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        httpx.post(f"{marketo_sandbox.url}/sandbox/errors",
                   json={"code": "606", "count": 2, "pathPrefix": "/rest/v1/leads/describe"})
        assert _error_code(client.get("/rest/v1/activities/types.json")) is None
        assert [_error_code(client.get(DESCRIBE)) for _ in range(3)] == ["606", "606", None]
        marketo_sandbox.sandbox.inject_errors("5xx", 1)
        outage = client.get(DESCRIBE)
        assert outage.status_code == 503 and "text/html" in outage.headers["content-type"]
        assert _error_code(client.get(DESCRIBE)) is None


def test_stats_count_calls_by_path(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        client.get(DESCRIBE)
        client.get(DESCRIBE)
        client.get("/rest/v1/activities/types.json")
    stats = httpx.get(f"{marketo_sandbox.url}/sandbox/stats").json()
    assert stats["api_calls"] == 3
    assert stats["calls_by_path"] == {DESCRIBE: 2, "/rest/v1/activities/types.json": 1}
    assert stats["leads"] == 300


def test_414_for_a_uri_over_8_kb_and_413_for_a_body_over_1_mb(marketo_sandbox):
    ids = ",".join(str(1_000_000 + n) for n in range(1_200))  # 10 bytes each once the comma is escaped
    with marketo_http_client(marketo_sandbox) as client:
        fits = client.get("/rest/v1/leads.json", params={"filterType": "id", "filterValues": ids[:5_000]})
        too_long = client.get("/rest/v1/leads.json", params={"filterType": "id", "filterValues": ids})
        too_large = client.post("/rest/v1/leads.json", content=b"{" + b" " * (1024 * 1024) + b"}",
                                headers={"Content-Type": "application/json"})
    assert fits.status_code == 200  # answered by the API (its own 300-value rule), not refused for size
    assert (too_long.status_code, too_large.status_code) == (414, 413)
