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


def _every_activity_settled(asset: dg.AssetsDefinition, destination: str) -> dg.AssetChecksDefinition:
    """The check that every logged activity has a delivery state for `destination`, none pending or in doubt."""

    @dg.asset_check(
        asset=asset,
        name=f"every_activity_settled_in_{destination}",
        description=f"Every logged activity has a {destination.title()} delivery state, and none is left "
                    "pending or in doubt.",
    )
    def check(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
        missing, open_rows = _gaps_and_doubts(actions_db, destination)
        return dg.AssetCheckResult(
            passed=missing == 0 and open_rows == 0,
            metadata={"activities_without_state": missing, "pending_or_in_doubt": open_rows},
        )

    return check


every_activity_settled_in_marketo = _every_activity_settled(marketo_sales_activities, store.MARKETO)
every_activity_settled_in_salesforce = _every_activity_settled(salesforce_activity_tasks, store.SALESFORCE)


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
