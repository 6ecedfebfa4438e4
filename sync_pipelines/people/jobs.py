"""Jobs of the people domain."""

import dagster as dg

person_sync_job = dg.define_asset_job(
    "person_sync_job",
    selection=dg.AssetSelection.groups("people"),
    # One process for the three steps: they hand over through PostgreSQL, and a process per step would
    # cost more than the incremental sync itself.
    executor_def=dg.in_process_executor,
    description=(
        "Marketo -> Actions person sync. Without config: a full extract (initial sync). With "
        "ops.marketo_person_extract.config.marketo_ids: just those people (incremental)."
    ),
)
