"""What every domain's assets share: their owners, how many ids a run reports as a sample, and how a
materialization that changed nothing is marked."""

# The team that answers for the sync's assets (each asset's `owners`).
OWNERS = ["team:data-engineering"]
# Ids reported in metadata as a sample of what a run changed or sent (or would have, in a dry run).
SAMPLE_SIZE = 10
# Metadata of a materialization that changed nothing: a sensor confirming that an asset is still current
# (its freshness), not a run that wrote it. Sensors that follow an asset's changes skip these.
CONFIRMED_UNCHANGED = "confirmed_unchanged"
