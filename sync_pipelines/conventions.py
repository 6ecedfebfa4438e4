"""What every domain's assets share: their owners, and how many ids a run reports as a sample."""

# The team that answers for the sync's assets (each asset's `owners`).
OWNERS = ["team:data-engineering"]
# Ids reported in metadata as a sample of what a run changed or sent (or would have, in a dry run).
SAMPLE_SIZE = 10
