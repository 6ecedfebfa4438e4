"""Which people a page of Marketo change activities touches (pure: records in, Marketo ids out)."""

from __future__ import annotations

from collections.abc import Iterable

from sync_pipelines.people.fields import WATCHED_FIELDS

NEW_LEAD = 12
DATA_VALUE_CHANGE = 13
MERGE_LEADS = 32


def ids_from_lead_changes(records: Iterable[dict]) -> set[int]:
    """New leads, and data value changes to a field the sync reads (synced fields, owner, type, unsubscribed).

    Marketo already filters lead changes by the fields asked for; the check here keeps a change to any
    other field from ever requesting a run, whatever the server sends.
    """
    watched = set(WATCHED_FIELDS)
    ids = set()
    for record in records:
        if record.get("activityTypeId") == NEW_LEAD:
            ids.add(int(record["leadId"]))
        elif record.get("activityTypeId") == DATA_VALUE_CHANGE:
            if any(change.get("name") in watched for change in record.get("fields") or []):
                ids.add(int(record["leadId"]))
    return ids


def ids_from_deleted_leads(records: Iterable[dict]) -> set[int]:
    """Leads deleted in Marketo."""
    return {int(record["leadId"]) for record in records if record.get("leadId") is not None}


def ids_from_merges(records: Iterable[dict]) -> set[int]:
    """Merge Leads activities: the winner (its fields may change) and every merged-away loser."""
    ids = set()
    for record in records:
        if record.get("activityTypeId") != MERGE_LEADS:
            continue
        ids.add(int(record["leadId"]))
        for attribute in record.get("attributes") or []:
            if attribute.get("name") == "Merge Ids" and attribute.get("value"):
                ids.update(int(part) for part in str(attribute["value"]).split(",") if part.strip().isdigit())
    return ids
