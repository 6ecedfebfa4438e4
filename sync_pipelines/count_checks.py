"""Asset checks of the most common kind: a query counts the rows that break an invariant, and zero passes."""

from __future__ import annotations

import dagster as dg

from sync_pipelines.resources import ActionsDatabase


def no_rows_check(
    *, asset: dg.AssetsDefinition | dg.AssetSpec, name: str, description: str, count_sql: str, metric: str,
    blocking: bool = False,
) -> dg.AssetChecksDefinition:
    """A check named `name` on `asset` that passes when `count_sql` (one `SELECT count(*) ...`) answers 0;
    the count is reported as the metadata entry `metric`."""

    @dg.asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def check(actions_db: ActionsDatabase) -> dg.AssetCheckResult:
        with actions_db.connection() as conn:
            (count,) = conn.execute(count_sql).fetchone()
        return dg.AssetCheckResult(passed=count == 0, metadata={metric: count})

    return check
