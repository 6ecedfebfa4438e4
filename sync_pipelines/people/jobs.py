"""Jobs of the people domain."""

import dagster as dg

person_sync_job = dg.define_asset_job(
    "person_sync_job",
    selection=dg.AssetSelection.groups("people"),
    description=(
        "Marketo -> Actions person sync. Without config: a full extract and compare (initial sync). "
        "With marketo_ids in the config of marketo_person_extract and actions_people: just those people."
    ),
)

# A run of a job that may still change something: requested, queued or running.
RUNS_IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def incremental_run_config(marketo_ids: list[int]) -> dict:
    """Run config of person_sync_job that syncs just these people (extract and Actions steps alike)."""
    scoped = {"config": {"marketo_ids": marketo_ids}}
    return {"ops": {"marketo_person_extract": scoped, "actions_people": scoped}}
