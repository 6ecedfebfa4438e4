"""The figures behind the asset checks of the people extract and its sales-owned view (people/checks.py).

Counts, reasons and Marketo ids only: never a field value (the quarantined rows' values stay in
person_quarantine.source_row).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# person_quarantine.reason joins every problem of a row with this separator (people/transforms.py).
REASON_SEPARATOR = "; "


@dataclass(frozen=True)
class QuarantineSummary:
    extracted: int  # people in the extract (rows that loaded)
    quarantined: int  # rows in quarantine: read from Marketo but not loaded
    by_reason: dict[str, int]  # rows per reason (a row with two problems counts under both)


def quarantine_summary(conn: psycopg.Connection) -> QuarantineSummary:
    (extracted, quarantined) = conn.execute(
        "SELECT (SELECT count(*) FROM marketo_person_extract), (SELECT count(*) FROM person_quarantine)"
    ).fetchone()
    rows = conn.execute(
        "SELECT problem, count(*) FROM person_quarantine, unnest(string_to_array(reason, %s)) AS problem "
        "GROUP BY problem ORDER BY count(*) DESC, problem",
        (REASON_SEPARATOR,),
    ).fetchall()
    return QuarantineSummary(extracted, quarantined, dict(rows))


@dataclass(frozen=True)
class OwnedSummary:
    rows: int  # rows of the sales_owned_people view
    without_owner: int  # of them, rows with no owner
    repeated_ids: int  # rows beyond the first with the same Marketo id
    owned_in_extract: int  # extract rows with an owner, counted from the table itself


def owned_summary(conn: psycopg.Connection) -> OwnedSummary:
    return OwnedSummary(*conn.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE nullif(owner_id, '') IS NULL), count(*) - count(DISTINCT marketo_id),
               (SELECT count(*) FROM marketo_person_extract WHERE nullif(owner_id, '') IS NOT NULL)
        FROM sales_owned_people
        """
    ).fetchone())


def owned_without_salesforce_record(conn: psycopg.Connection, sample: int) -> tuple[dict[str, int], list[int]]:
    """Sales-owned people whose Salesforce record id is missing for their type (a Lead without a lead id, a
    Contact without a contact id, or no type at all): counts per type, and the lowest `sample` Marketo ids."""
    missing = """
        (salesforce_type = 'Lead' AND nullif(salesforce_lead_id, '') IS NULL)
        OR (salesforce_type = 'Contact' AND nullif(salesforce_contact_id, '') IS NULL)
        OR salesforce_type IS NULL OR salesforce_type NOT IN ('Lead', 'Contact')
    """
    by_type = conn.execute(
        f"SELECT coalesce(salesforce_type, 'none'), count(*) FROM sales_owned_people WHERE {missing} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    ids = conn.execute(
        f"SELECT marketo_id FROM sales_owned_people WHERE {missing} ORDER BY marketo_id LIMIT %s", (sample,)
    ).fetchall()
    return dict(by_type), [row[0] for row in ids]
