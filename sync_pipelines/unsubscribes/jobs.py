"""Jobs of the unsubscribe domain."""

import dagster as dg

unsubscribe_sync_job = dg.define_asset_job(
    "unsubscribe_sync_job",
    selection=dg.AssetSelection.groups("unsubscribes"),
    # Both steps are short and hand over through PostgreSQL: one process is cheaper than two.
    executor_def=dg.in_process_executor,
    description=(
        "Reconciles email opt-outs between Actions and Salesforce and refreshes Marketo's unsubscribe status "
        "per Actions person (the send check). Writes nothing to Marketo."
    ),
)
