"""Jobs of the unsubscribe domain."""

import dagster as dg

unsubscribe_sync_job = dg.define_asset_job(
    "unsubscribe_sync_job",
    selection=dg.AssetSelection.groups("unsubscribes"),
    description=(
        "Reconciles email opt-outs between Actions and Salesforce and refreshes Marketo's unsubscribe status "
        "per Actions person (the send check). Writes nothing to Marketo."
    ),
)
