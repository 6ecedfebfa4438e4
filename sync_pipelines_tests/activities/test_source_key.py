"""The Actions app's idempotency key: logging an activity again with its source_key writes nothing new."""

from datetime import datetime, timezone

import pandas as pd
import psycopg
import pytest

from sync_pipelines import actions_app
from sync_pipelines import store
from sync_pipelines.sandbox.activity_log import sellers_for_owners


def test_an_activity_logged_twice_with_its_source_key_exists_once(database_url):
    with store.connect(database_url) as conn:  # migrates
        conn.autocommit = True
        actions_app.write_sellers(conn, sellers_for_owners(["005A"]))
        activity = {"marketo_id": 1001, "activity_type": "Received Sales Call", "seller_id": "seller-001",
                    "occurred_at": datetime(2026, 6, 30, 12, tzinfo=timezone.utc), "call_outcome": "Connected",
                    "source_key": "app-7f3a"}
        first = actions_app.log_activity(conn, activity)
        # The app lost the COMMIT acknowledgement and logs the same activity again.
        again = actions_app.log_activity(conn, {**activity, "call_outcome": "Connected (retry)"})
        other = actions_app.log_activity(conn, {**activity, "source_key": "app-7f3b"})
        without_key = [actions_app.log_activity(conn, {**activity, "source_key": None}) for _ in range(2)]
        assert again == first and other != first and len(set(without_key)) == 2
        rows = conn.execute("SELECT source_key, call_outcome FROM actions_sales_activity ORDER BY activity_id").fetchall()
        assert rows == [("app-7f3a", "Connected"), ("app-7f3b", "Connected"), (None, "Connected"), (None, "Connected")]
        # The bulk writer (COPY) keeps the key unique too: a duplicate key is refused, not stored twice.
        with pytest.raises(psycopg.errors.UniqueViolation):
            with conn.transaction():
                actions_app.write_activities(conn, pd.DataFrame([activity]))
