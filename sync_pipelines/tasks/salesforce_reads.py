"""What the task sync asks Salesforce: a seller's recently touched tasks, the syncing sellers' tasks changed
since a cursor, recent deletions, ids. Only tasks owned by the Salesforce users of syncing sellers are read.

Changes are read with a SystemModstamp query through queryAll, so one query returns created, edited,
completed and deleted (IsDeleted = true, while in the recycle bin) tasks alike, without the minute
granularity of getUpdated. Deletions further back come from getDeleted (15 days) and, beyond its reach,
from a full compare of ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sync_pipelines.chunks import chunked
from sync_pipelines.salesforce import SalesforceClient, quote, soql_in
from sync_pipelines.salesforce.client import parse_salesforce_datetime
from sync_pipelines.tasks.fields import QUERY_FIELDS, TASK_SUBTYPE_FILTER

# How far back Salesforce's getDeleted answers (the recycle bin keeps deleted records 15 days).
DELETED_REACH = timedelta(days=15)
# Ids per IN (...) list: a query travels in the URL, and Salesforce refuses a URI over 16,384 bytes (414).
# 200 ids of 18 characters keep it near 4 KB.
_IDS_PER_QUERY = 200


def tasks_touched_since(client: SalesforceClient, owner_id: str, since: datetime) -> list[dict[str, Any]]:
    """The live to-do tasks of one Salesforce user created or updated at or after `since` (LastModifiedDate):
    a seller's import at the first enable (the 24 hours before it) or when pulling again after a pause."""
    soql = (f"SELECT {', '.join(QUERY_FIELDS)} FROM Task WHERE {TASK_SUBTYPE_FILTER} AND OwnerId = {quote(owner_id)} "
            f"AND LastModifiedDate >= {quote(since.replace(microsecond=0))}")
    return list(client.query(soql))


def tasks_changed_since(client: SalesforceClient, cursor: datetime, owner_ids: list[str]) -> list[dict[str, Any]]:
    """Tasks of these owners created, edited or deleted at or after `cursor` (SystemModstamp), oldest first.

    SOQL datetimes have whole seconds, so the query starts at the cursor's second: versions already
    applied come back and are recognised by their SystemModstamp (an idempotent re-read). A task handed to a
    user who does not sync leaves the sync: its Actions copy stays as last synced.
    """
    return _per_owner_chunk(client, owner_ids, lambda owners: (
        f"SELECT {', '.join(QUERY_FIELDS)} FROM Task WHERE {TASK_SUBTYPE_FILTER} AND OwnerId IN {soql_in(owners)} "
        f"AND SystemModstamp >= {quote(cursor.replace(microsecond=0))} ORDER BY SystemModstamp"))


def changed_since(client: SalesforceClient, cursor: datetime, owner_ids: list[str],
                  limit: int) -> list[tuple[str, datetime]]:
    """(Id, SystemModstamp) of at most `limit` tasks of these owners changed after `cursor`, oldest first.
    One cheap query per chunk of owners: the first `limit` of all are among each chunk's first `limit`."""
    changed = _per_owner_chunk(client, owner_ids, lambda owners: (
        f"SELECT Id, SystemModstamp FROM Task WHERE {TASK_SUBTYPE_FILTER} AND OwnerId IN {soql_in(owners)} "
        f"AND SystemModstamp >= {quote(cursor.replace(microsecond=0))} ORDER BY SystemModstamp LIMIT {int(limit)}"))
    found = [(record["Id"], parse_salesforce_datetime(record["SystemModstamp"])) for record in changed]
    return [(task_id, stamp) for task_id, stamp in found if stamp > cursor][:limit]


def _per_owner_chunk(client: SalesforceClient, owner_ids: list[str],
                     soql_for: Callable[[list[str]], str]) -> list[dict[str, Any]]:
    """The records of `soql_for(owners)` (through queryAll: deleted ones too) for each chunk of the owners, oldest
    SystemModstamp first: a large team's IN list in one query would pass Salesforce's URL limit."""
    records: list[dict[str, Any]] = []
    for owners in chunked(owner_ids, _IDS_PER_QUERY):
        records += client.query_all_including_deleted(soql_for(owners))
    return sorted(records, key=lambda record: parse_salesforce_datetime(record["SystemModstamp"]))


def recently_deleted(client: SalesforceClient, now: datetime) -> tuple[list[dict[str, Any]], datetime]:
    """Tasks deleted in the past 15 days (getDeleted): ([{id, deletedDate}], earliestDateAvailable)."""
    records, earliest, _ = client.deleted_records("Task", now - DELETED_REACH, now)
    return records, earliest


def live_task_ids(client: SalesforceClient, candidates: list[str]) -> set[str]:
    """Which of these Salesforce task ids still exist (the full compare, a chunk of ids per query)."""
    alive: set[str] = set()
    for chunk in chunked(candidates, _IDS_PER_QUERY):
        alive |= {record["Id"] for record in client.query(f"SELECT Id FROM Task WHERE Id IN {soql_in(chunk)}")}
    return alive


def modstamps(client: SalesforceClient, ids: list[str]) -> dict[str, datetime]:
    """SystemModstamp of each task (after the sync wrote it: the version not to bring back)."""
    stamps: dict[str, datetime] = {}
    for chunk in chunked(ids, _IDS_PER_QUERY):
        for record in client.query(f"SELECT Id, SystemModstamp FROM Task WHERE Id IN {soql_in(chunk)}"):
            stamps[record["Id"]] = parse_salesforce_datetime(record["SystemModstamp"])
    return stamps
