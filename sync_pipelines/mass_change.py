"""The mass-change guard: a full run may not remove more than a small share of the current rows.

A short extract (a smart list edited by a marketer, a permission change on the API user, a partial export,
a fake or wrong org) looks exactly like a wave of people, tasks or opt-outs leaving. So a writer counts
what it would remove before it applies anything, and refuses above the limit with the figures (counts only,
never personal data). An operator who means it sets `allow_mass_removal: true` in that asset's run config;
the run then applies the change and records the override (materialization metadata and a run tag). A dry
run reports the same figures and never refuses: it applies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

OVERRIDE_TAG = "sync_pipelines/mass_removal_allowed"


class MassRemovalConfig(dg.Config):
    """The guard's settings, part of the config of every asset that can remove rows in a full run."""

    allow_mass_removal: bool = Field(
        default=False, description="Apply a removal above the limit (deliberately; the run records it)")
    max_removed_percent: float = Field(
        default=5.0, ge=0, description="A full run may remove at most this share of the current rows")
    max_removed_rows: int = Field(default=500, ge=0, description="...and at most this many rows")
    min_removed_rows: int = Field(
        default=10, ge=0, description="Removing at most this many rows passes whatever the share (tiny tables)")


@dataclass(frozen=True)
class Removal:
    """What a run would remove: `removing` of the `current` rows of `what` (e.g. "Actions people")."""

    what: str
    current: int
    removing: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.removing / self.current, 1) if self.current else 0.0


def exceeds_limit(removal: Removal, max_removed_percent: float, max_removed_rows: int, min_removed_rows: int = 10) -> bool:
    """Refused: removing every row (an empty extract or org), more rows than max_removed_rows, or more than
    min_removed_rows that are also a larger share than max_removed_percent."""
    if removal.removing <= 0:
        return False
    if removal.removing >= removal.current:
        return True
    if removal.removing > max_removed_rows:
        return True
    return removal.removing > min_removed_rows and removal.removing * 100.0 > max_removed_percent * removal.current


def guard_removal(
    context: dg.AssetExecutionContext, config: MassRemovalConfig, removal: Removal, *, dry_run: bool
) -> dict[str, object]:
    """Refuse (dg.Failure, before anything is applied) a removal above the limit unless the run allows it.

    Returns the guard's metadata for the materialization: the same figures in a real run and a dry run.
    """
    over = exceeds_limit(removal, config.max_removed_percent, config.max_removed_rows, config.min_removed_rows)
    limit = (f"{config.max_removed_percent:g}% (beyond {config.min_removed_rows} rows) or {config.max_removed_rows} "
             "rows, and never every row")
    verdict = "within limit" if not over else ("allowed by override" if config.allow_mass_removal else "refused")
    metadata: dict[str, object] = {
        "mass_removal_guard": verdict,
        "guard_current_rows": removal.current,
        "guard_would_remove": removal.removing,
        "guard_would_remove_percent": removal.percent,
        "guard_limit": limit,
    }
    if not over:
        return metadata
    summary = (f"would remove {removal.removing} of {removal.current} {removal.what} ({removal.percent}%), "
               f"above the limit of {limit}")
    if config.allow_mass_removal:
        metadata["mass_removal_override"] = True
        context.log.warning(f"Mass removal allowed by run config (allow_mass_removal): {summary}")
        if not dry_run:
            context.instance.add_run_tags(context.run_id, {OVERRIDE_TAG: context.asset_key.to_user_string()})
        return metadata
    if dry_run:
        context.log.warning(f"Dry run: a real run would be refused: {summary}")
        return metadata
    raise dg.Failure(
        description=(
            f"Mass-change guard: this full run {summary}. Nothing was applied. If Marketo/Salesforce really "
            f"changed this much, rerun with allow_mass_removal: true in the config of "
            f"{context.asset_key.to_user_string()} (the run records the override)."
        ),
        metadata=metadata,
    )
