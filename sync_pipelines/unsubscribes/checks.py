"""Invariants of the unsubscribe domain, checked after each sync."""

from sync_pipelines.count_checks import no_rows_check
from sync_pipelines.unsubscribes.assets import marketo_unsubscribe_status, salesforce_unsubscribes


every_actions_opt_out_reached_salesforce = no_rows_check(
    asset=salesforce_unsubscribes, name="every_actions_opt_out_reached_salesforce",
    description=(
        "Every Actions opt-out is held by the person's Salesforce record, except people in "
        "unsubscribe_quarantine (their reason is recorded there)."
    ),
    count_sql="""
        SELECT count(*) FROM actions_unsubscribe u
        JOIN actions_person p USING (marketo_id)
        LEFT JOIN salesforce_unsubscribe_state s USING (marketo_id)
        WHERE u.opted_out AND coalesce(p.salesforce_contact_id, p.salesforce_lead_id) IS NOT NULL
          AND s.sf_opted_out IS NOT TRUE
          AND NOT EXISTS (SELECT 1 FROM unsubscribe_quarantine q WHERE q.marketo_id = u.marketo_id)
        """,
    metric="opt_outs_not_in_salesforce",
)

marketo_status_matches_extract = no_rows_check(
    asset=marketo_unsubscribe_status, name="marketo_status_matches_extract", blocking=True,
    description="Every Actions person in the extract has a Marketo status row, and it matches the extract.",
    count_sql="""
        SELECT count(*) FROM actions_person p JOIN marketo_person_extract e USING (marketo_id)
        LEFT JOIN marketo_unsubscribe_status m USING (marketo_id)
        WHERE m.marketo_id IS NULL OR m.unsubscribed <> coalesce(e.unsubscribed, false)
        """,
    metric="people_out_of_step",
)
