"""activity_fanout_job run again and again against a Marketo that answers the types list as the docs do."""

import psycopg

from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines_tests.activities.helpers import fan_out, marketo_custom_activities, sync_people

READ_ONLY_MARKETO_CALLS = {"GET"}


def test_fanout_job_three_times_makes_only_read_calls_to_marketo_after_the_first(
    marketo_sandbox, salesforce_sandbox, database_url
):
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, 40)
    marketo = marketo_sandbox.sandbox

    calls_per_run = []
    for _ in range(3):
        start = len(marketo.call_log)
        ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
        assert ok
        calls_per_run.append(marketo.call_log[start:])

    # The emulator's types list carries no attributes, as in Adobe's documented answer.
    listed = marketo.custom_activity_types.list()
    assert len(listed) == 8 and all("attributes" not in entry for entry in listed)
    first, *later = calls_per_run
    assert any(method == "POST" and path.endswith("/approve.json") for method, path in first)
    for calls in later:
        writes = [(method, path) for method, path in calls if method not in READ_ONLY_MARKETO_CALLS]
        assert writes == []
        assert sum(path.endswith("/describe.json") for _, path in calls) == 8  # one describe per type
    assert metadata["marketo_sales_activity_types"]["types_already_current"] == 8
    assert len(marketo_custom_activities(marketo)) == 40  # and nothing was inserted twice
