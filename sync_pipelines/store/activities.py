"""The activity tables: the Actions activity log, its sellers and the delivery state per destination.

Delivery state machine (one row per activity and destination; see the activities section of
migrations/0100_baseline.sql):
    pending -> sending (batch_id committed BEFORE the remote call) -> delivered | quarantined
A row still 'sending' when a run starts was left by a crash: it is in doubt and must be verified
against the destination before it is sent again. Functions here never commit on their own: callers
wrap each step in `conn.transaction()` on an autocommit connection, so every step is its own commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pandas as pd
import psycopg
from psycopg import sql

from sync_pipelines.store.settings import setting_sql

MARKETO, SALESFORCE = "marketo", "salesforce"
# The log's activity_type values that Salesforce receives as Tasks (emails and calls). Defined here, with
# the table, because the store may not import the activities domain; activities.types re-exports them.
EMAIL_TASK_TYPE = "Sales Email Sent"
CALL_TASK_TYPE = "Received Sales Call"
# The activity log the Actions app writes (actions_sales_activity; the contract is activities/README.md).
ACTIVITY_LOG_COLUMNS = [
    "activity_id", "marketo_id", "activity_type", "occurred_at", "seller_id", "email_subject", "email_body",
    "template_name", "link_clicked", "bounce_details", "call_outcome", "call_status", "call_duration_seconds",
    "call_notes", "campaign_id", "campaign_name", "logged_at", "source_key",
]
_LOCK_NAMESPACE = 0x4AC7  # advisory lock: one delivery run per destination at a time
_LOCK_KEYS = {MARKETO: 1, SALESFORCE: 2}  # the lock's second key, per destination

# What a delivery step needs about an activity: the log row, its person and its seller.
_ROWS_SQL = """
    SELECT a.activity_id, a.marketo_id, a.activity_type, a.occurred_at, a.seller_id,
           a.email_subject, a.email_body, a.template_name, a.link_clicked, a.bounce_details,
           a.call_outcome, a.call_status, a.call_duration_seconds, a.call_notes,
           a.campaign_id, a.campaign_name,
           p.salesforce_contact_id, p.salesforce_lead_id, cl.contact_id AS converted_contact_id,
           p.email AS person_email,
           s.display_name AS seller_name, s.email AS seller_email, s.salesforce_user_id,
           s.email_to_salesforce_address, s.time_zone AS seller_time_zone, d.channel
    FROM activity_delivery d
    JOIN actions_sales_activity a USING (activity_id)
    JOIN actions_seller s ON s.seller_id = a.seller_id
    LEFT JOIN actions_person p ON p.marketo_id = a.marketo_id
    LEFT JOIN salesforce_converted_lead cl ON cl.lead_id = p.salesforce_lead_id
    WHERE d.destination = %s AND d.batch_id = %s
      AND d.state = 'sending'  -- rows of the batch already settled (e.g. quarantined) are not re-read
    ORDER BY a.activity_id
"""


@contextmanager
def delivery_lock(conn: psycopg.Connection, destination: str) -> Iterator[bool]:
    """Hold the delivery lock of `destination` (yields False when another run holds it)."""
    key = _LOCK_KEYS[destination]
    (acquired,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_NAMESPACE, key)).fetchone()
    try:
        yield acquired
    finally:
        if acquired:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_NAMESPACE, key))


# --- reading the log ---------------------------------------------------------------------------


def log_gaps_between(conn: psycopg.Connection, low: int, high: int) -> list[tuple[int, int]]:
    """Id ranges in (low, high) with no visible row (`high` is an id seen in the log)."""
    rows = conn.execute(
        """
        SELECT previous + 1, activity_id - 1 FROM (
            SELECT activity_id, lag(activity_id, 1, %(low)s) OVER (ORDER BY activity_id) AS previous
            FROM actions_sales_activity WHERE activity_id > %(low)s AND activity_id <= %(high)s) s
        WHERE activity_id > previous + 1
        """,
        {"low": low, "high": high},
    ).fetchall()
    return [(int(first), int(last)) for first, last in rows]


def ids_in_ranges(conn: psycopg.Connection, ranges: list[tuple[int, int]]) -> set[int]:
    """The activity ids now visible inside the given inclusive id ranges."""
    if not ranges:
        return set()
    rows = conn.execute(
        "SELECT a.activity_id FROM unnest(%s::bigint[], %s::bigint[]) AS g (first_id, last_id) "
        "JOIN actions_sales_activity a ON a.activity_id BETWEEN g.first_id AND g.last_id",
        ([first for first, _ in ranges], [last for _, last in ranges]),
    ).fetchall()
    return {int(row[0]) for row in rows}


def log_high_water_mark(conn: psycopg.Connection) -> tuple[int, int]:
    """(highest activity id, activity count) of the log; (0, 0) when empty."""
    high, count = conn.execute("SELECT coalesce(max(activity_id), 0), count(*) FROM actions_sales_activity").fetchone()
    return int(high), int(count)


# --- enqueueing ---------------------------------------------------------------------------------


def enqueue_marketo(conn: psycopg.Connection) -> int:
    """Give every logged activity without a Marketo delivery row a pending one; returns how many."""
    cursor = conn.execute(
        """
        INSERT INTO activity_delivery (activity_id, destination, state)
        SELECT a.activity_id, 'marketo', 'pending' FROM actions_sales_activity a
        WHERE NOT EXISTS (SELECT 1 FROM activity_delivery d
                          WHERE d.destination = 'marketo' AND d.activity_id = a.activity_id)
        ON CONFLICT DO NOTHING
        """
    )
    return cursor.rowcount


# New activities get a Salesforce delivery row: pending (with its channel) or skipped with the reason.
_ENQUEUE_SALESFORCE_SQL = """
    WITH new AS (
        SELECT a.activity_id, a.activity_type,
               coalesce(p.salesforce_contact_id, p.salesforce_lead_id) AS who_id,
               p.marketo_id IS NOT NULL AS in_actions,
               {log_emails} = 'true' AS log_emails, {log_calls} = 'true' AS log_calls,
               {email_mode} AS email_mode
        FROM actions_sales_activity a
        LEFT JOIN actions_person p ON p.marketo_id = a.marketo_id
        WHERE NOT EXISTS (SELECT 1 FROM activity_delivery d
                          WHERE d.destination = 'salesforce' AND d.activity_id = a.activity_id)
    ), decided AS (
        SELECT activity_id,
               CASE
                 WHEN activity_type NOT IN (%(email)s, %(call)s) THEN 'not an email or call'
                 WHEN activity_type = %(email)s AND NOT log_emails THEN 'email logging is off'
                 WHEN activity_type = %(call)s AND NOT log_calls THEN 'call logging is off'
                 WHEN NOT in_actions THEN 'person not in Actions'
                 WHEN who_id IS NULL THEN 'no Salesforce lead or contact id'
               END AS skip_reason,
               CASE WHEN activity_type = %(email)s THEN email_mode ELSE 'api' END AS channel
        FROM new
    )
    INSERT INTO activity_delivery (activity_id, destination, state, channel, reason)
    SELECT activity_id, 'salesforce',
           CASE WHEN skip_reason IS NULL THEN 'pending' ELSE 'skipped' END,
           CASE WHEN skip_reason IS NULL THEN channel END, skip_reason
    FROM decided
    ON CONFLICT DO NOTHING
    RETURNING state, reason, channel
    """


def enqueue_salesforce(conn: psycopg.Connection, org_defaults: Mapping[str, str]) -> dict[str, int]:
    """Give every new activity a Salesforce delivery row: pending (with its channel) or skipped.

    Settings as of logging time: log_emails, log_calls and email_logging_mode are each resolved for
    the activity's seller at the activity's `logged_at` (the seller's latest change, else the org's,
    else `org_defaults`: environment-variable name -> value, the settings' org defaults). An activity
    skipped while its path was off is not sent when the path is switched on later, and an activity
    logged while it was on is sent even if it is switched off before the run sees it.
    """
    def setting(name: str) -> sql.Composable:
        return setting_sql(name, "a.seller_id", "a.logged_at", environ=org_defaults)

    query = sql.SQL(_ENQUEUE_SALESFORCE_SQL).format(
        log_emails=setting("log_emails"), log_calls=setting("log_calls"), email_mode=setting("email_logging_mode"))
    rows = conn.execute(query, {"email": EMAIL_TASK_TYPE, "call": CALL_TASK_TYPE}).fetchall()
    return _enqueue_counts(rows)


_SKIP_COUNTS = {"no Salesforce lead or contact id": "skipped_no_salesforce_id",
                "not an email or call": "skipped_not_email_or_call",
                "person not in Actions": "skipped_person_not_in_actions"}


def _enqueue_counts(rows: list[tuple]) -> dict[str, int]:
    """Counts of the new delivery rows (state, reason, channel) by outcome; any other skip is by settings."""
    counts: dict[str, int] = {"pending": 0, "pending_api": 0, "pending_bcc": 0, "skipped_no_salesforce_id": 0,
                              "skipped_by_settings": 0, "skipped_not_email_or_call": 0,
                              "skipped_person_not_in_actions": 0}
    for state, reason, channel in rows:
        if state == "pending":
            counts["pending"] += 1
            counts[f"pending_{channel}"] += 1
        else:
            counts[_SKIP_COUNTS.get(reason, "skipped_by_settings")] += 1
    return counts


def requeue_after_person_change(conn: psycopg.Connection, destination: str) -> int:
    """Give activities held back by their person another chance once the person's data changed.

    A quarantined activity whose person row in Actions changed after it was quarantined goes back to
    pending (attempts reset); for Salesforce, one skipped because its person was not in Actions or had
    no Lead/Contact id loses its delivery row, so the next enqueue decides it again (its settings are
    those of its logged_at, so only the person part of the decision can come out differently).
    actions_person.last_synced_at moves only when a synced field changed.
    """
    requeued = conn.execute(
        """
        UPDATE activity_delivery d SET state = 'pending', reason = NULL, batch_id = NULL, attempts = 0,
               updated_at = now()
        FROM actions_sales_activity a JOIN actions_person p ON p.marketo_id = a.marketo_id
        WHERE d.activity_id = a.activity_id AND d.destination = %s AND d.state = 'quarantined'
          AND p.last_synced_at > d.updated_at
        """,
        (destination,),
    ).rowcount
    if destination == SALESFORCE:
        requeued += conn.execute(
            """
            DELETE FROM activity_delivery d
            USING actions_sales_activity a JOIN actions_person p ON p.marketo_id = a.marketo_id
            WHERE d.activity_id = a.activity_id AND d.destination = 'salesforce' AND d.state = 'skipped'
              AND d.reason IN ('person not in Actions', 'no Salesforce lead or contact id')
              AND p.last_synced_at > d.updated_at
            """
        ).rowcount
    return requeued


def record_contact_context(conn: psycopg.Connection, context: Mapping[str, tuple[str | None, str | None]]) -> int:
    """Store Contact id -> (Account id, newest open Opportunity id with a role) as read from Salesforce."""
    if not context:
        return 0
    contact_ids = list(context)
    conn.execute(
        "INSERT INTO salesforce_contact_context (contact_id, account_id, open_opportunity_id) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
        "ON CONFLICT (contact_id) DO UPDATE SET account_id = excluded.account_id, "
        "open_opportunity_id = excluded.open_opportunity_id, looked_up_at = now()",
        (contact_ids, [context[c][0] for c in contact_ids], [context[c][1] for c in contact_ids]),
    )
    return len(contact_ids)


def record_converted_leads(conn: psycopg.Connection, contacts: Mapping[str, str]) -> int:
    """Remember Lead id -> the Contact it was converted to (Lead.ConvertedContactId)."""
    for lead_id, contact_id in contacts.items():
        conn.execute(
            "INSERT INTO salesforce_converted_lead (lead_id, contact_id) VALUES (%s, %s) "
            "ON CONFLICT (lead_id) DO UPDATE SET contact_id = excluded.contact_id, found_at = now()",
            (lead_id, contact_id),
        )
    return len(contacts)


# --- batches --------------------------------------------------------------------------------------


def claim_batch(conn: psycopg.Connection, destination: str, size: int, channel: str | None = None) -> str | None:
    """Move up to `size` pending activities (oldest first) to 'sending' under a new batch id.

    Commit this BEFORE calling the destination: a crash after the call then leaves the batch visibly
    in doubt instead of silently pending (which would send it twice). Returns None when none is pending.
    """
    batch_id = uuid.uuid4().hex
    channel_filter = "AND channel = %(channel)s" if channel else ""
    cursor = conn.execute(
        f"""
        UPDATE activity_delivery SET state = 'sending', batch_id = %(batch)s, attempts = attempts + 1,
               updated_at = now()
        WHERE destination = %(destination)s AND activity_id IN (
            SELECT activity_id FROM activity_delivery
            WHERE destination = %(destination)s AND state = 'pending' {channel_filter}
            ORDER BY activity_id LIMIT %(size)s FOR UPDATE SKIP LOCKED)
        """,
        {"batch": batch_id, "destination": destination, "size": size, "channel": channel},
    )
    return batch_id if cursor.rowcount else None


def in_doubt_batches(conn: psycopg.Connection, destination: str) -> list[str]:
    """Batch ids still 'sending' (left by a crash or an unanswered call), oldest first."""
    rows = conn.execute(
        "SELECT batch_id FROM activity_delivery WHERE destination = %s AND state = 'sending' "
        "GROUP BY batch_id ORDER BY min(updated_at)",
        (destination,),
    ).fetchall()
    return [row[0] for row in rows]


def batch_rows(conn: psycopg.Connection, destination: str, batch_id: str) -> pd.DataFrame:
    """The activities of a batch still 'sending', with their person and seller (see _ROWS_SQL)."""
    with conn.cursor() as cursor:
        cursor.execute(_ROWS_SQL, (destination, batch_id))
        columns = [column.name for column in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def batch_started_at(conn: psycopg.Connection, destination: str, batch_id: str):
    """When the batch was claimed (the earliest moment its call can have reached the destination)."""
    return conn.execute(
        "SELECT min(updated_at) FROM activity_delivery WHERE destination = %s AND batch_id = %s",
        (destination, batch_id),
    ).fetchone()[0]


def mark_delivered(conn: psycopg.Connection, destination: str, remote_ids: Mapping[int, str | None]) -> int:
    return _set_state(conn, destination, "delivered", [(i, r, None) for i, r in remote_ids.items()])


def mark_quarantined(conn: psycopg.Connection, destination: str, reasons: Mapping[int, str]) -> int:
    return _set_state(conn, destination, "quarantined", [(i, None, r) for i, r in reasons.items()])


def release(conn: psycopg.Connection, destination: str, activity_ids: list[int]) -> int:
    """Back to 'pending' (verified as not delivered, or refused before anything ran)."""
    return _set_state(conn, destination, "pending", [(i, None, None) for i in activity_ids])


def _set_state(conn: psycopg.Connection, destination: str, state: str, rows: list[tuple]) -> int:
    if not rows:
        return 0
    activity_ids, remote_ids, reasons = (list(column) for column in zip(*rows))
    # One statement for the whole batch (arrays unnested), not one round trip per activity.
    conn.execute(
        """
        UPDATE activity_delivery d SET state = %(state)s, remote_id = u.remote_id, reason = u.reason,
               updated_at = now(), batch_id = CASE WHEN %(state)s = 'pending' THEN NULL ELSE d.batch_id END
        FROM unnest(%(ids)s::bigint[], %(remote_ids)s::text[], %(reasons)s::text[])
             AS u (activity_id, remote_id, reason)
        WHERE d.destination = %(destination)s AND d.activity_id = u.activity_id
        """,
        {"state": state, "destination": destination, "ids": activity_ids, "remote_ids": remote_ids, "reasons": reasons},
    )
    return len(rows)


def attempts(conn: psycopg.Connection, destination: str, activity_ids: list[int]) -> dict[int, int]:
    """How many times each activity has been claimed for `destination`."""
    rows = conn.execute(
        "SELECT activity_id, attempts FROM activity_delivery "
        "WHERE destination = %s AND activity_id = ANY(%s::bigint[])",
        (destination, activity_ids),
    ).fetchall()
    return {int(activity_id): int(count) for activity_id, count in rows}


def delivery_counts(conn: psycopg.Connection, destination: str) -> dict[str, int]:
    """Rows per state for one destination (every state present, zero when none)."""
    counts = {state: 0 for state in ("pending", "sending", "delivered", "quarantined", "skipped")}
    for state, count in conn.execute(
        "SELECT state, count(*) FROM activity_delivery WHERE destination = %s GROUP BY state", (destination,)
    ):
        counts[state] = int(count)
    return counts
