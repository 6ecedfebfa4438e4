"""The send check the Actions app calls before a seller may email a person.

Interface: `check_send(conn, marketo_id) -> SendDecision(allowed, reasons)`, reading the SQL view
`person_send_check` (migration 0003). Reasons, in this order: "marketo_unsubscribed" (Marketo's
unsubscribed flag), "actions_opt_out" (opted out in Actions), "salesforce_opt_out" (HasOptedOutOfEmail on
the person's Salesforce record, or an opt-out that came from there), "no_email", "hard_bounce" (Marketo's
emailInvalid). A person who is not in the Actions person table is refused with "not_in_actions".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

REASONS = ("marketo_unsubscribed", "actions_opt_out", "salesforce_opt_out", "no_email", "hard_bounce")
NOT_IN_ACTIONS = "not_in_actions"


@dataclass(frozen=True)
class SendDecision:
    """allowed: the seller may email the person. reasons: every reason that blocks (empty when allowed)."""

    allowed: bool
    reasons: list[str] = field(default_factory=list)


def check_send(conn: psycopg.Connection, marketo_id: int) -> SendDecision:
    """May a seller email the Actions person with this Marketo id? One indexed read of person_send_check."""
    row = conn.execute("SELECT allowed, reasons FROM person_send_check WHERE marketo_id = %s", (marketo_id,)).fetchone()
    if row is None:
        return SendDecision(allowed=False, reasons=[NOT_IN_ACTIONS])
    allowed, reasons = row
    return SendDecision(allowed=bool(allowed), reasons=list(reasons))
