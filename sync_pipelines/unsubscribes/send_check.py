"""The send check the Actions app calls before a seller may email a person.

Interface: `check_send(conn, marketo_id) -> SendDecision(allowed, reasons)`, reading the SQL view
`person_send_check` (store/migrations/0100_baseline.sql). Reasons, in this order: "marketo_unsubscribed"
(Marketo's unsubscribed flag), "actions_opt_out" (opted out in Actions), "salesforce_opt_out" (HasOptedOutOfEmail on
the person's Salesforce record, or an opt-out that came from there), "no_email", "hard_bounce" (Marketo's
emailInvalid). A person who is not in the Actions person table is refused with "not_in_actions".

The Marketo part is a setting (`marketo_unsubscribe_check`, store/settings.py: the org default from an
admin or MARKETO_UNSUBSCRIBE_CHECK, overridden per seller): given the seller who wants to send, a check
that is off for them drops "marketo_unsubscribed"; every other reason still blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg

from sync_pipelines.store.settings import effective_settings, org_settings

REASONS = ("marketo_unsubscribed", "actions_opt_out", "salesforce_opt_out", "no_email", "hard_bounce")
NOT_IN_ACTIONS = "not_in_actions"


@dataclass(frozen=True)
class SendDecision:
    """allowed: the seller may email the person. reasons: every reason that blocks (empty when allowed)."""

    allowed: bool
    reasons: list[str] = field(default_factory=list)


def check_send(
    conn: psycopg.Connection, marketo_id: int, *, seller_id: str | None = None, at: datetime | None = None
) -> SendDecision:
    """May the seller (or, without one, anyone under the org's settings) email the Actions person with this
    Marketo id? One indexed read of person_send_check, and the seller's marketo_unsubscribe_check at `at`."""
    row = conn.execute("SELECT reasons FROM person_send_check WHERE marketo_id = %s", (marketo_id,)).fetchone()
    if row is None:
        return SendDecision(allowed=False, reasons=[NOT_IN_ACTIONS])
    reasons = list(row[0])
    at = at or datetime.now(timezone.utc)
    if seller_id is None:
        check_marketo = org_settings(conn, at)["marketo_unsubscribe_check"]
    else:
        check_marketo = effective_settings(conn, at, seller_ids=[seller_id], settings=["marketo_unsubscribe_check"])[
            seller_id]["marketo_unsubscribe_check"]
    if not check_marketo:
        reasons = [reason for reason in reasons if reason != "marketo_unsubscribed"]
    return SendDecision(allowed=not reasons, reasons=reasons)
