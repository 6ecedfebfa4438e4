"""Per-seller settings against a real PostgreSQL: the seller's change beats the org's, the org's beats the
environment, each as of an instant; the SQL form agrees with the Python reader row by row."""

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from sync_pipelines import store
from sync_pipelines.actions_app import record_setting_change
from sync_pipelines.store.settings import (
    SettingValueError,
    effective_settings,
    org_default,
    org_settings,
    setting_sql,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.fixture
def conn(database_url):
    with store.connect(database_url) as connection:
        for seller in ("s1", "s2"):
            connection.execute(
                "INSERT INTO actions_seller (seller_id, display_name, email) VALUES (%s, %s, %s)",
                (seller, seller, f"{seller}@example.test"),
            )
        connection.commit()
        yield connection


def test_seller_beats_org_beats_environment_at_each_instant(conn):
    env = {"ACTIVITY_LOG_EMAILS": "yes"}
    record_setting_change(conn, "log_emails", False, changed_at=T0)  # admin: off for everyone
    record_setting_change(conn, "log_emails", "on", seller_id="s1", changed_at=T0 + HOUR)  # s1: back on
    record_setting_change(conn, "log_emails", True, changed_at=T0 + 2 * HOUR)  # admin: on again
    record_setting_change(conn, "log_emails", "false", seller_id="s2", changed_at=T0 + 3 * HOUR)

    def at(t):
        values = effective_settings(conn, t, settings=["log_emails"], environ=env)
        return values["s1"]["log_emails"], values["s2"]["log_emails"]

    assert at(T0 - HOUR) == (True, True)  # nothing recorded yet: the environment
    assert at(T0) == (False, False)  # the org change applies from its instant on
    assert at(T0 + HOUR) == (True, False)  # s1's own change wins over the org's
    assert at(T0 + 2 * HOUR) == (True, True)
    assert at(T0 + 3 * HOUR + timedelta(seconds=1)) == (True, False)
    assert org_settings(conn, T0 + 4 * HOUR, environ=env)["log_emails"] is True


def test_environment_is_the_org_default_and_bad_values_fail(conn):
    values = effective_settings(conn, T0, environ={})
    assert values["s1"] == {
        "log_emails": True,
        "log_calls": True,
        "email_logging_mode": "api",
        "task_sync": "dont_sync",
        "marketo_unsubscribe_check": True,
    }
    env = {"ACTIVITY_EMAIL_LOGGING_MODE": "BCC", "TASK_SYNC": "two_way", "MARKETO_UNSUBSCRIBE_CHECK": "off"}
    values = effective_settings(conn, T0, environ=env)
    assert values["s2"]["email_logging_mode"] == "bcc"
    assert values["s2"]["task_sync"] == "two_way"
    assert values["s2"]["marketo_unsubscribe_check"] is False
    with pytest.raises(SettingValueError, match="ACTIVITY_LOG_CALLS"):
        org_default("log_calls", {"ACTIVITY_LOG_CALLS": "maybe"})
    with pytest.raises(SettingValueError, match="task_sync"):
        record_setting_change(conn, "task_sync", "sometimes")


def test_database_refuses_what_the_app_writer_would(conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO actions_setting_change (setting, value) VALUES ('email_logging_mode', 'fax')")
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO actions_setting_change (setting, value) VALUES ('colour', 'red')")
    conn.rollback()
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        record_setting_change(conn, "log_calls", True, seller_id="nobody")
    conn.rollback()


def test_sql_form_resolves_each_row_at_its_own_instant(conn):
    record_setting_change(conn, "email_logging_mode", "bcc", changed_at=T0)
    record_setting_change(conn, "email_logging_mode", "api", seller_id="s1", changed_at=T0 + HOUR)
    rows = [("s1", T0 - HOUR), ("s1", T0), ("s1", T0 + HOUR), ("s2", T0 + 5 * HOUR)]
    expression = setting_sql("email_logging_mode", "r.seller_id", "r.logged_at", environ={})
    query = psycopg.sql.SQL(
        "SELECT r.seller_id, r.logged_at, {} FROM unnest(%s::text[], %s::timestamptz[]) AS r(seller_id, logged_at)"
        " ORDER BY r.logged_at"
    ).format(expression)
    got = [value for _, _, value in conn.execute(query, ([s for s, _ in rows], [t for _, t in rows]))]
    assert got == ["api", "bcc", "api", "bcc"]
    for (seller, t), value in zip(rows, got):
        assert effective_settings(conn, t, seller_ids=[seller], settings=["email_logging_mode"], environ={})[
            seller
        ]["email_logging_mode"] == value
