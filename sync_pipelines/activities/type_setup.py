"""Make Marketo hold the 8 activity types, with every attribute, approved. A second run only reads:
one types list and one describe per type (9 calls), and writes nothing.

A write whose answer is lost is never sent again blindly (a replayed create answers "already exists"):
the pass ends, and the next pass reads the types again and writes only what is still missing.
"""

from dataclasses import dataclass

from sync_pipelines.activities.types import ACTIVITY_TYPES
from sync_pipelines.activities.delivery_run import UnansweredStreak
from sync_pipelines.marketo.custom_activities import CustomActivitiesApi, TypeWriteInDoubt


@dataclass
class TypeSetupCounts:
    types_created: int = 0
    attributes_added: int = 0
    types_approved: int = 0
    types_already_current: int = 0
    unanswered_writes: int = 0  # settled by reading the types again, never by resending


def ensure_activity_types(api: CustomActivitiesApi, *, dry_run: bool = False) -> TypeSetupCounts:
    """Create missing types, add missing attributes (to the draft), approve what changed or is a draft.

    Attributes are only ever added: one Marketo no longer needs stays (removing an attribute from a
    type with activities would hide data from smart lists); its value is simply no longer sent.
    dry_run: only the read endpoints are called; the counts are those of the writes a real run would make.
    """
    counts = TypeSetupCounts()
    unanswered = UnansweredStreak()
    while True:
        try:
            _reconcile_types(api, counts, unanswered, dry_run=dry_run)
            return counts
        except TypeWriteInDoubt:
            counts.unanswered_writes += 1
            if unanswered.lost_one():
                raise


def _reconcile_types(api: CustomActivitiesApi, counts: TypeSetupCounts, unanswered: UnansweredStreak, *,
                     dry_run: bool) -> None:
    """One pass: read the types, write what is missing; raises TypeWriteInDoubt at the first lost answer."""
    counts.types_already_current = 0
    existing = {entry.get("apiName"): entry for entry in api.list_types()}
    for spec in ACTIVITY_TYPES:
        current = existing.get(spec.api_name)
        if current is None and dry_run:
            # A new type starts as a draft without secondary attributes: all of them would be added, then approved.
            counts.types_created += 1
            counts.attributes_added += len(spec.attribute_requests())
            counts.types_approved += 1
            continue
        if current is None:
            current = version = api.create_type(spec.create_request())  # a new draft: no attributes yet
            unanswered.answered()
            counts.types_created += 1
        else:
            # The types list carries no attributes (the docs' example answer has none): describe the
            # version that changes would go to: the draft when there is one, else the live type.
            version = api.describe_type(spec.api_name, draft=current.get("status") != "approved")
        present = {attribute.get("apiName") for attribute in version.get("attributes") or []}
        missing = [attribute for attribute in spec.attribute_requests() if attribute["apiName"] not in present]
        if missing:
            if not dry_run:
                api.create_attributes(spec.api_name, missing)
                unanswered.answered()
            counts.attributes_added += len(missing)
        if missing or current.get("status") != "approved":
            if not dry_run:
                api.approve_type(spec.api_name)
                unanswered.answered()
            counts.types_approved += 1
        else:
            counts.types_already_current += 1
