"""The run-level dry run: one run tag, `sync_pipelines/dry_run=true`, set from the launchpad (Tags) or the CLI
(`dagster job launch ... --tags '{"sync_pipelines/dry_run": "true"}'`).

The resources read the tag once, when the run sets them up (`DryRunAware.setup_for_execution`), so every
step of the run sees the same answer whatever the executor and the step order. A dry run reads the services,
computes what it would change, reports the counts, and commits and sends nothing. Its materializations carry
the same tag and the metadata `dry_run: true`, so they cannot be taken for real ones; the runs list shows the
run's tag.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import dagster as dg
from pydantic import PrivateAttr

DRY_RUN_TAG = "sync_pipelines/dry_run"
_VALUES = {"true": True, "false": False}


def run_is_dry(tags: Mapping[str, str]) -> bool:
    """Whether these run tags ask for a dry run. Anything but true/false is refused: a typo must not
    turn a dry run into a real one."""
    value = tags.get(DRY_RUN_TAG)
    if value is None:
        return False
    try:
        return _VALUES[value.strip().lower()]
    except KeyError:
        raise dg.Failure(f"Run tag {DRY_RUN_TAG} must be 'true' or 'false', not {value!r}") from None


def materialization_tags(dry_run: bool) -> dict[str, str]:
    """The tags of a materialization: a dry run's is labelled as such."""
    return {DRY_RUN_TAG: "true"} if dry_run else {}


def result(metadata: Mapping[str, object], *, dry_run: bool, started: float | None = None) -> dg.MaterializeResult:
    """An asset's MaterializeResult: `dry_run` in its metadata, and the dry-run tag when it is one.

    started: the asset's `time.monotonic()` at its start; the metadata then says `duration_seconds`.
    """
    timing = {} if started is None else {"duration_seconds": round(time.monotonic() - started, 3)}
    return dg.MaterializeResult(metadata={"dry_run": dry_run, **metadata, **timing}, tags=materialization_tags(dry_run))


class DryRunAware(dg.ConfigurableResource):
    """A resource that knows, from its run's tags, whether the run is a dry run (`dry_run`)."""

    _dry_run: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.dagster_run
        self._dry_run = run_is_dry(run.tags) if run is not None else False

    @property
    def dry_run(self) -> bool:
        return self._dry_run
