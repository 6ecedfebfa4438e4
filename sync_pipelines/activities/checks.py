"""Invariants of the activity fan-out, checked after each delivery run."""

import dagster as dg

from sync_pipelines.activities.assets import marketo_sales_activities, salesforce_activity_tasks
from sync_pipelines.resources import ActionsDatabase
from sync_pipelines.store import activities as store


def _gaps_and_doubts(actions_db: ActionsDatabase, destination: str) -> tuple[int, int]:
    with actions_db.connection() as conn:
        missing, in_doubt = conn.execute(
            """
            SELECT (SELECT count(*) FROM actions_sales_activity a WHERE NOT EXISTS (
                        SELECT 1 FROM activity_delivery d WHERE d.destination = %(d)s AND d.activity_id = a.activity_id)),
                   (SELECT count(*) FROM activity_delivery WHERE destination = %(d)s AND state IN ('pending', 'sending'))
            """,
            {"d": destination},
        ).fetchone()
    return int(missing), int(in_doubt)


@dg.asset_check(
    asset=marketo_sales_activities,
    description="Every logged activity has a Marketo delivery state, and none is left pending or in doubt.",
)
def every_activity_settled_in_marketo(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    missing, open_rows = _gaps_and_doubts(actions_db, store.MARKETO)
    return dg.AssetCheckResult(
        passed=missing == 0 and open_rows == 0,
        metadata={"activities_without_state": missing, "pending_or_in_doubt": open_rows},
    )


@dg.asset_check(
    asset=salesforce_activity_tasks,
    description="Every logged activity has a Salesforce delivery state, and none is left pending or in doubt.",
)
def every_activity_settled_in_salesforce(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    missing, open_rows = _gaps_and_doubts(actions_db, store.SALESFORCE)
    return dg.AssetCheckResult(
        passed=missing == 0 and open_rows == 0,
        metadata={"activities_without_state": missing, "pending_or_in_doubt": open_rows},
    )


@dg.asset_check(
    asset=marketo_sales_activities,
    description="Quarantined activities (unknown lead, bad attribute): a warning to look at their reasons.",
)
def marketo_quarantine_is_empty(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
    with actions_db.connection() as conn:
        reasons = dict(conn.execute(
            "SELECT split_part(reason, ':', 1), count(*) FROM activity_delivery "
            "WHERE destination = 'marketo' AND state = 'quarantined' GROUP BY 1"
        ).fetchall())
    return dg.AssetCheckResult(
        passed=not reasons,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined_by_code": dg.MetadataValue.json({k: int(v) for k, v in reasons.items()})},
    )
