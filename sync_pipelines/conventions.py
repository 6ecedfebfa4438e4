"""What every domain's assets share: their owners and group, how many ids a run reports as a sample, and how
a materialization that changed nothing is marked."""

from collections.abc import Sequence

import dagster as dg

# The team that answers for the sync's assets (each asset's `owners`).
OWNERS = ["team:data-engineering"]
# Ids reported in metadata as a sample of what a run changed or sent (or would have, in a dry run).
SAMPLE_SIZE = 10
# Metadata of a materialization that changed nothing: a sensor confirming that an asset is still current
# (its freshness), not a run that wrote it. Sensors that follow an asset's changes skip these.
CONFIRMED_UNCHANGED = "confirmed_unchanged"


def in_domain(group: str, assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """A domain's assets, put in its asset group and owned by OWNERS: said once per domain, in its
    `Definitions`, rather than on every decorator. The domain's job selects the group."""
    return dg.map_asset_specs(lambda spec: spec.replace_attributes(group_name=group, owners=OWNERS), assets)
