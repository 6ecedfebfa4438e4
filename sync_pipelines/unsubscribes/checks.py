"""Invariants of the unsubscribe domain, checked after each sync."""

import dagster as dg

from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.unsubscribes.assets import marketo_unsubscribe_status, salesforce_unsubscribes


@dg.asset_check(
    asset=salesforce_unsubscribes,
    description=(
        "Every Actions opt-out is held by the person's Salesforce record, except people in "
        "unsubscribe_quarantine (their reason is recorded there)."
    ),
)
def every_actions_opt_out_reached_salesforce(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    with actions_db.connection() as conn:
        (missing,) = conn.execute(
            """
            SELECT count(*) FROM actions_unsubscribe u
            JOIN actions_person p USING (marketo_id)
            LEFT JOIN salesforce_unsubscribe_state s USING (marketo_id)
            WHERE u.opted_out AND coalesce(p.salesforce_contact_id, p.salesforce_lead_id) IS NOT NULL
              AND s.sf_opted_out IS NOT TRUE
              AND NOT EXISTS (SELECT 1 FROM unsubscribe_quarantine q WHERE q.marketo_id = u.marketo_id)
            """
        ).fetchone()
    return dg.AssetCheckResult(passed=missing == 0, metadata={"opt_outs_not_in_salesforce": missing})


@dg.asset_check(
    asset=marketo_unsubscribe_status,
    blocking=True,
    description="Every Actions person in the extract has a Marketo status row, and it matches the extract.",
)
def marketo_status_matches_extract(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    with actions_db.connection() as conn:
        (stale,) = conn.execute(
            """
            SELECT count(*) FROM actions_person p JOIN marketo_person_extract e USING (marketo_id)
            LEFT JOIN marketo_unsubscribe_status m USING (marketo_id)
            WHERE m.marketo_id IS NULL OR m.unsubscribed <> coalesce(e.unsubscribed, false)
            """
        ).fetchone()
    return dg.AssetCheckResult(passed=stale == 0, metadata={"people_out_of_step": stale})
