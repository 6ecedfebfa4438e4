"""Jobs of the tasks domain."""

import dagster as dg

task_sync_job = dg.define_asset_job(
    "task_sync_job",
    selection=dg.AssetSelection.groups("tasks"),
    description=(
        "Two-way task sync between Actions and Salesforce: read Salesforce changes since the cursor, "
        "reconcile both directions, refresh the Command Center counts. Does nothing while the sync is off."
    ),
)


def task_sync_run_config(now: str | None = None) -> dict:
    """Run config of task_sync_job: an optional clock override for every step."""
    clock = {"now": now} if now else {}
    return {
        "ops": {
            "salesforce_tasks": {"config": clock},
            "actions_tasks": {"config": clock},
            "command_center_tasks": {"config": clock},
        }
    }
