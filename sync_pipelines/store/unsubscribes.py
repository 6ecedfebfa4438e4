"""The unsubscribe tables: the Actions opt-out record, the Salesforce sync state, cursors, quarantine and
Marketo's status per person. Every write is keyed (Marketo id, cursor name, event key), so a rerun after a
crash rewrites the same rows and records no event twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

SOURCES = ("actions", "salesforce")
# What the sync knows of each person's Salesforce record (salesforce_unsubscribe_state), in insert order.
SALESFORCE_STATE_COLUMNS = ["marketo_id", "salesforce_id", "salesforce_object", "sf_opted_out", "sf_modstamp",
                            "sf_opted_out_at", "agreed_opted_out", "agreed_at", "updated_at"]
# Marketo's flags per Actions person (marketo_unsubscribe_status), in insert order.
MARKETO_STATUS_COLUMNS = ["marketo_id", "unsubscribed", "email_invalid", "marketo_updated_at", "changed_at",
                          "refreshed_at"]
# The audit detail of each reconciliation outcome (the outcome names come from unsubscribes/transforms.py).
OUTCOME_DETAILS = {
    "to_actions": "applied in Actions",
    "to_salesforce": "sent to Salesforce",
    "conflict_opt_out_kept": "a re-subscribe older than the other side's opt-out; the opt-out stays on both sides",
}


def insert_events(conn: psycopg.Connection, rows: list[tuple]) -> None:
    if not rows:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO unsubscribe_event (marketo_id, source, opted_out, occurred_at, outcome, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )


# ------------------------------------------------------------ the Salesforce sync


def load_people(conn: psycopg.Connection) -> pd.DataFrame:
    """Every Actions person with their Salesforce ids, Actions unsubscribe record and sync state."""
    rows = conn.execute(
        """
        SELECT p.marketo_id, p.salesforce_contact_id, p.salesforce_lead_id,
               u.marketo_id IS NOT NULL AS a_exists, u.opted_out AS a_opted_out, u.source AS a_source,
               u.changed_at AS a_changed_at, u.last_opt_out_at AS a_last_opt_out_at,
               u.last_opt_out_source AS a_last_opt_out_source,
               s.salesforce_id AS state_salesforce_id, s.sf_opted_out AS stored_opted_out,
               s.sf_modstamp AS stored_modstamp, s.sf_opted_out_at AS stored_opted_out_at,
               s.agreed_opted_out
        FROM actions_person p
        LEFT JOIN actions_unsubscribe u USING (marketo_id)
        LEFT JOIN salesforce_unsubscribe_state s USING (marketo_id)
        ORDER BY p.marketo_id
        """
    )
    columns = [column.name for column in rows.description]
    return pd.DataFrame(rows.fetchall(), columns=columns, dtype=object)


def apply_resolutions(conn: psycopg.Connection, resolved: pd.DataFrame, now: datetime) -> None:
    """Write what reconciliation decided: Actions records, the Salesforce state, the audit events.

    `resolved` is resolve_opt_outs' output plus salesforce_id and salesforce_object columns.
    """
    actions_rows, state_rows, events = [], [], []
    for row in resolved.itertuples(index=False):
        if row.actions_update:
            actions_rows.append((row.marketo_id, row.actions_opted_out, row.actions_source, row.actions_changed_at,
                                 _none(row.actions_last_opt_out_at), _none(row.actions_last_opt_out_source)))
        state_rows.append((row.marketo_id, row.salesforce_id, row.salesforce_object, row.sf_opted_out,
                           _none(row.sf_modstamp), _none(row.sf_opted_out_at), _none(row.agreed_opted_out),
                           now if _none(row.agreed_opted_out) is not None else None, now))
        if _none(row.event_outcome):
            detail = OUTCOME_DETAILS[row.event_outcome]
            events.append((row.marketo_id, row.event_source, row.event_opted_out, row.event_occurred_at,
                           row.event_outcome, detail))
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO actions_unsubscribe (marketo_id, opted_out, source, changed_at, last_opt_out_at, last_opt_out_source)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (marketo_id) DO UPDATE SET
                opted_out = EXCLUDED.opted_out, source = EXCLUDED.source, changed_at = EXCLUDED.changed_at,
                last_opt_out_at = EXCLUDED.last_opt_out_at, last_opt_out_source = EXCLUDED.last_opt_out_source,
                recorded_at = now()
            """,
            actions_rows,
        )
        cursor.executemany(
            f"""
            INSERT INTO salesforce_unsubscribe_state ({", ".join(SALESFORCE_STATE_COLUMNS)})
            VALUES ({", ".join(["%s"] * len(SALESFORCE_STATE_COLUMNS))})
            ON CONFLICT (marketo_id) DO UPDATE SET
                salesforce_id = EXCLUDED.salesforce_id, salesforce_object = EXCLUDED.salesforce_object,
                sf_opted_out = EXCLUDED.sf_opted_out, sf_modstamp = EXCLUDED.sf_modstamp,
                sf_opted_out_at = EXCLUDED.sf_opted_out_at,
                agreed_opted_out = EXCLUDED.agreed_opted_out,
                agreed_at = CASE WHEN salesforce_unsubscribe_state.agreed_opted_out IS NOT DISTINCT FROM
                                      EXCLUDED.agreed_opted_out
                                 THEN salesforce_unsubscribe_state.agreed_at ELSE EXCLUDED.agreed_at END,
                updated_at = EXCLUDED.updated_at
            WHERE (salesforce_unsubscribe_state.salesforce_id, salesforce_unsubscribe_state.sf_opted_out,
                   salesforce_unsubscribe_state.sf_modstamp, salesforce_unsubscribe_state.sf_opted_out_at,
                   salesforce_unsubscribe_state.agreed_opted_out)
                  IS DISTINCT FROM
                  (EXCLUDED.salesforce_id, EXCLUDED.sf_opted_out, EXCLUDED.sf_modstamp, EXCLUDED.sf_opted_out_at,
                   EXCLUDED.agreed_opted_out)
            """,
            state_rows,
        )
    insert_events(conn, events)


@dataclass(frozen=True)
class PushedRecord:
    """A Salesforce record after our write, as read back: its opt-out and SystemModstamp."""

    marketo_id: int
    opted_out: bool
    modstamp: datetime | None


def mark_pushed(conn: psycopg.Connection, pushed: list[PushedRecord], now: datetime) -> None:
    """Both sides now hold the same value: store it as read back from Salesforce and as agreed."""
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            UPDATE salesforce_unsubscribe_state SET
                sf_opted_out = %(out)s, sf_modstamp = %(modstamp)s::timestamptz,
                sf_opted_out_at = CASE WHEN %(out)s THEN %(modstamp)s::timestamptz END,
                agreed_opted_out = %(out)s, agreed_at = %(now)s, updated_at = %(now)s
            WHERE marketo_id = %(id)s
            """,
            [{"id": p.marketo_id, "out": p.opted_out, "modstamp": p.modstamp, "now": now} for p in pushed],
        )


def get_cursor(conn: psycopg.Connection, name: str) -> datetime | None:
    row = conn.execute("SELECT position FROM unsubscribe_sync_cursor WHERE name = %s", (name,)).fetchone()
    return row[0] if row else None


def set_cursor(conn: psycopg.Connection, name: str, position: datetime, now: datetime) -> None:
    """Move a cursor forward (never back: a replayed run cannot rewind it)."""
    conn.execute(
        """
        INSERT INTO unsubscribe_sync_cursor (name, position, updated_at) VALUES (%s, %s, %s)
        ON CONFLICT (name) DO UPDATE SET position = greatest(unsubscribe_sync_cursor.position, EXCLUDED.position),
                                         updated_at = EXCLUDED.updated_at
        """,
        (name, position, now),
    )


def quarantine(conn: psycopg.Connection, rows: list[tuple[int, str | None, str]], now: datetime) -> int:
    """Record people whose opt-out could not be synced: (marketo_id, salesforce_id, reason)."""
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO unsubscribe_quarantine (marketo_id, salesforce_id, reason, first_seen_at, last_seen_at)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (marketo_id) DO UPDATE SET salesforce_id = EXCLUDED.salesforce_id,
                reason = EXCLUDED.reason, last_seen_at = EXCLUDED.last_seen_at
            """,
            [(marketo_id, salesforce_id, reason, now, now) for marketo_id, salesforce_id, reason in rows],
        )
    return len(rows)


def clear_quarantine(conn: psycopg.Connection, synced_ids: list[int]) -> int:
    """People who synced cleanly this run leave the quarantine."""
    return conn.execute(
        "DELETE FROM unsubscribe_quarantine WHERE marketo_id = ANY(%s::bigint[])", (synced_ids,)
    ).rowcount


# ------------------------------------------------------------ Marketo's status


@dataclass(frozen=True)
class StatusCounts:
    people: int
    unsubscribed: int
    email_invalid: int
    newly_unsubscribed: int
    resubscribed: int
    changed: int
    removed: int
    changed_sample: tuple[int, ...] = ()  # the lowest Marketo ids among the changed rows (no personal data)


def refresh_marketo_status(conn: psycopg.Connection, now: datetime) -> StatusCounts:
    """Bring marketo_unsubscribe_status in step with the people extract, for every Actions person.

    Only rows whose flags changed are written (the extract itself is refreshed incrementally by the
    person sync), so a rerun writes nothing.
    """
    changes = conn.execute(
        f"""
        WITH source AS (
            SELECT p.marketo_id, coalesce(e.unsubscribed, false) AS unsubscribed,
                   coalesce(e.email_invalid, false) AS email_invalid, e.marketo_updated_at
            FROM actions_person p JOIN marketo_person_extract e USING (marketo_id)
        ), previous AS (
            SELECT s.marketo_id, m.unsubscribed AS was_unsubscribed
            FROM source s LEFT JOIN marketo_unsubscribe_status m USING (marketo_id)
        ), upserted AS (
            INSERT INTO marketo_unsubscribe_status AS m ({", ".join(MARKETO_STATUS_COLUMNS)})
            SELECT marketo_id, unsubscribed, email_invalid, marketo_updated_at, %(now)s, %(now)s FROM source
            ON CONFLICT (marketo_id) DO UPDATE SET
                unsubscribed = EXCLUDED.unsubscribed, email_invalid = EXCLUDED.email_invalid,
                marketo_updated_at = EXCLUDED.marketo_updated_at, changed_at = EXCLUDED.changed_at,
                refreshed_at = EXCLUDED.refreshed_at
            WHERE (m.unsubscribed, m.email_invalid) IS DISTINCT FROM (EXCLUDED.unsubscribed, EXCLUDED.email_invalid)
            RETURNING m.marketo_id, m.unsubscribed
        )
        SELECT count(*),
               count(*) FILTER (WHERE u.unsubscribed AND p.was_unsubscribed IS NOT TRUE),
               count(*) FILTER (WHERE NOT u.unsubscribed AND p.was_unsubscribed),
               (array_agg(u.marketo_id ORDER BY u.marketo_id))[1:10]
        FROM upserted u JOIN previous p USING (marketo_id)
        """,
        {"now": now},
    ).fetchone()
    removed = conn.execute(
        "DELETE FROM marketo_unsubscribe_status m "
        "WHERE NOT EXISTS (SELECT 1 FROM actions_person p WHERE p.marketo_id = m.marketo_id)"
    ).rowcount
    people, unsubscribed, email_invalid = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE unsubscribed), count(*) FILTER (WHERE email_invalid) "
        "FROM marketo_unsubscribe_status"
    ).fetchone()
    return StatusCounts(people=people, unsubscribed=unsubscribed, email_invalid=email_invalid,
                        newly_unsubscribed=changes[1], resubscribed=changes[2], changed=changes[0], removed=removed,
                        changed_sample=tuple(changes[3] or ()))


def _none(value):
    """NA/NaT/NaN from a DataFrame cell as None, for the database."""
    if value is None or value is pd.NaT:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value
