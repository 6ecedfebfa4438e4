"""Crashes and service faults in the middle of a fan-out: no duplicate, no gap, on both sides."""

import psycopg

from sync_pipelines.activities import crash_injection
from sync_pipelines.sandbox.activity_log import seed_activity_log
from sync_pipelines.sandbox.faults import FaultPlan
from sync_pipelines_tests.activities.helpers import fan_out, marketo_custom_activities, salesforce_tasks_by_activity, states, sync_people
from sync_pipelines_tests.activities.test_fanout import _assert_marketo_exactly_once, _assert_salesforce_exactly_once


def _prepare(marketo_sandbox, database_url, count) -> None:
    sync_people(marketo_sandbox, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seed_activity_log(conn, count)


class Crash(Exception):
    """The process dies after the destination stored the batch, before our commit."""


def test_crash_between_send_and_commit_then_rerun(marketo_sandbox, salesforce_sandbox, database_url, monkeypatch):
    _prepare(marketo_sandbox, database_url, 450)

    def crash(destination: str, batch_id: str) -> None:
        raise Crash(f"{destination} {batch_id}")

    monkeypatch.setattr(crash_injection, "after_send", crash)
    ok, _ = fan_out(marketo_sandbox, salesforce_sandbox, database_url, raise_on_error=False)
    assert not ok
    # The first batch reached both services but is recorded as in doubt, not as delivered or pending.
    assert len(marketo_custom_activities_now(marketo_sandbox)) == 300
    assert sum(1 for s, _ in states(database_url, "marketo").values() if s == "sending") == 300
    in_salesforce = len(salesforce_tasks_by_activity(salesforce_sandbox.sandbox))
    assert in_salesforce > 0
    assert {s for s, _ in states(database_url, "salesforce").values()} >= {"sending"}

    monkeypatch.setattr(crash_injection, "after_send", crash_injection._nothing)
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    assert metadata["marketo_sales_activities"]["found_on_verify"] == 300
    assert metadata["marketo_sales_activities"]["delivered"] == 450  # 300 found by the read-back + 150 sent
    assert metadata["salesforce_activity_tasks"]["found_on_verify"] == in_salesforce
    _assert_marketo_exactly_once(marketo_sandbox, database_url)
    _assert_salesforce_exactly_once(salesforce_sandbox, database_url)


def marketo_custom_activities_now(marketo_sandbox) -> list[dict]:
    return marketo_custom_activities(marketo_sandbox.sandbox)


def test_unanswered_insert_rate_limit_expired_session_and_row_locks(
    marketo_sandbox, salesforce_sandbox, database_url, monkeypatch
):
    _prepare(marketo_sandbox, database_url, 600)
    marketo = marketo_sandbox.sandbox
    # Marketo: the first insert is refused with 606 (retried: nothing ran), the next one dies with a
    # 503 (in doubt: read back, found missing, sent again).
    marketo.inject_errors("606", 1, "/rest/v1/activities/external.json")
    marketo.inject_errors("5xx", 1, "/rest/v1/activities/external.json")
    # Salesforce: three records hit row locks; the session expires after the first Task batch.
    salesforce = salesforce_sandbox.sandbox
    salesforce.inject_errors("UNABLE_TO_LOCK_ROW", 3, "composite/sobjects")

    def expire_salesforce_session(destination: str, batch_id: str) -> None:
        if destination == "salesforce":
            salesforce.expire_sessions()

    monkeypatch.setattr(crash_injection, "after_send", expire_salesforce_session)
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    mkto, sf = metadata["marketo_sales_activities"], metadata["salesforce_activity_tasks"]
    assert mkto["in_doubt_batches"] == 1 and mkto["found_on_verify"] == 0 and mkto["resent_after_verify"] > 0
    assert mkto["delivered"] == 600 and mkto["quarantined"] == 0
    assert sf["tasks_delivered"] > 200  # two collection batches, the second after the session expired
    assert sf["quarantined"] == 0
    _assert_marketo_exactly_once(marketo_sandbox, database_url)
    _assert_salesforce_exactly_once(salesforce_sandbox, database_url)


def test_bad_row_is_quarantined_with_reason_while_the_batch_goes_through(
    marketo_sandbox, salesforce_sandbox, database_url
):
    _prepare(marketo_sandbox, database_url, 20)
    with psycopg.connect(database_url, autocommit=True) as conn:
        (bad,) = conn.execute(
            "UPDATE actions_sales_activity SET email_subject = NULL WHERE activity_id = "
            "(SELECT min(activity_id) FROM actions_sales_activity WHERE activity_type = 'Sales Email Opened') "
            "RETURNING activity_id"
        ).fetchone()
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    assert states(database_url, "marketo")[bad] == (
        "quarantined", "missing email_subject (the primary attribute of Sales Email Opened)")
    assert metadata["marketo_sales_activities"]["delivered"] == 19
    _assert_marketo_exactly_once(marketo_sandbox, database_url, skip={bad})


def test_lost_replies_on_both_sides_are_read_back_never_replayed(marketo_sandbox, salesforce_sandbox, database_url):
    """The write runs, the answer is lost (connection closed before the body): every such batch is
    settled by reading back, so each activity exists once on each side and none is quarantined."""
    _prepare(marketo_sandbox, database_url, 900)
    marketo_sandbox.sandbox.set_fault_plan(FaultPlan({"lost_reply": 0.5}, seed=3))
    salesforce_sandbox.sandbox.set_fault_plan(FaultPlan({"lost_reply": 0.5}, seed=4))
    totals = {"marketo_sales_activities": 0, "salesforce_activity_tasks": 0}
    for _ in range(6):  # a run stops after 5 unanswered calls in a row; the next one goes on
        ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url, raise_on_error=False)
        for asset in totals:
            totals[asset] += metadata.get(asset, {}).get("unanswered_calls", 0)
        if ok and not any(s == "pending" for s, _ in states(database_url, "salesforce").values()):
            break
    assert ok
    assert marketo_sandbox.sandbox.fault_plan.injected["lost_reply"] > 0
    assert salesforce_sandbox.sandbox.fault_plan.injected["lost_reply"] > 0
    assert all(count > 0 for count in totals.values()), totals
    for destination in ("marketo", "salesforce"):
        assert not any(state in ("quarantined", "sending", "pending")
                       for state, _ in states(database_url, destination).values())
    _assert_marketo_exactly_once(marketo_sandbox, database_url)
    _assert_salesforce_exactly_once(salesforce_sandbox, database_url)


def test_verify_rereads_only_rows_still_sending(marketo_sandbox, salesforce_sandbox, database_url):
    """A batch with a quarantined row whose insert went unanswered: the read-back settles the others and
    leaves the quarantined row (its attempts and reason) alone."""
    _prepare(marketo_sandbox, database_url, 20)
    with psycopg.connect(database_url, autocommit=True) as conn:
        (bad,) = conn.execute(
            "UPDATE actions_sales_activity SET email_subject = NULL WHERE activity_id = "
            "(SELECT min(activity_id) FROM actions_sales_activity WHERE activity_type = 'Sales Email Opened') "
            "RETURNING activity_id").fetchone()
    fan_out(marketo_sandbox, salesforce_sandbox, database_url, selection=["marketo_sales_activity_types"])
    marketo_sandbox.sandbox.set_fault_plan(FaultPlan({"lost_reply": 1.0}, max_faults=1))  # for the first insert
    ok, metadata = fan_out(marketo_sandbox, salesforce_sandbox, database_url)
    assert ok
    mkto = metadata["marketo_sales_activities"]
    assert mkto["unanswered_calls"] == 1 and mkto["found_on_verify"] == 19 and mkto["resent_after_verify"] == 0
    assert states(database_url, "marketo")[bad][0] == "quarantined"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT attempts FROM activity_delivery WHERE destination = 'marketo' "
                            "AND activity_id = %s", (bad,)).fetchone()[0] == 1
    _assert_marketo_exactly_once(marketo_sandbox, database_url, skip={bad})
