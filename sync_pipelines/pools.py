"""Dagster concurrency pools: one per external service, so every launch (UI, sensor, schedule, backfill)
counts against the same limit. The limits live in the instance's `concurrency: pools:` settings
(dagster.yaml, deploy/dagster.yaml); a step of a pool waits for a free slot before it starts.
"""

# Marketo allows 10 API calls in flight per instance, shared by every integration; a step's client keeps
# at most 5 in flight, so two steps at once stay inside the limit.
MARKETO = "marketo"
# Salesforce counts concurrent long-running requests and daily API calls per org; two steps at once
# leave room for the org's other integrations.
SALESFORCE = "salesforce"
