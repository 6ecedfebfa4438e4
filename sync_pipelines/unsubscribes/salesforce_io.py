"""What the unsubscribe sync reads from and writes to Salesforce: HasOptedOutOfEmail on Leads and Contacts.

Every value put into SOQL goes through soql.quote / soql_in; id lists travel in chunks of 200 (one
query or one sObject Collections call each).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from sync_pipelines.chunks import chunked
from sync_pipelines.salesforce import RecordResult, SalesforceClient, quote, soql_in
from sync_pipelines.salesforce.client import parse_salesforce_datetime

OBJECTS = ("Contact", "Lead")
ID_CHUNK = 200  # ids per SOQL IN list: keeps each query far below SOQL's length limit
READING_COLUMNS = ["salesforce_id", "opted_out", "modstamp"]
_FIELDS = "Id, HasOptedOutOfEmail, SystemModstamp"


def _frame(records: Iterable[dict]) -> pd.DataFrame:
    rows = [
        (r["Id"], bool(r["HasOptedOutOfEmail"]), parse_salesforce_datetime(r["SystemModstamp"]))
        for r in records
    ]
    return pd.DataFrame(rows, columns=READING_COLUMNS)


def read_changes(client: SalesforceClient, sobject: str, since: datetime) -> pd.DataFrame:
    """Every record of `sobject` whose SystemModstamp is at or after `since`, oldest first.

    One paged query for the whole org (cheaper than asking for each Actions person's id); the caller
    keeps the records of Actions people. SOQL datetimes have whole seconds, so `since` is rounded down.
    """
    soql = f"SELECT {_FIELDS} FROM {sobject} WHERE SystemModstamp >= {quote(since)} ORDER BY SystemModstamp"
    return _frame(client.query(soql))


def read_records(client: SalesforceClient, sobject: str, ids: list[str]) -> pd.DataFrame:
    """The current opt-out of these records (missing from the answer: deleted or not visible)."""
    frames = [
        _frame(client.query(f"SELECT {_FIELDS} FROM {sobject} WHERE Id IN {soql_in(chunk)}"))
        for chunk in chunked(ids, ID_CHUNK)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=READING_COLUMNS)


def write_opt_outs(client: SalesforceClient, sobject: str, updates: list[tuple[str, bool]]) -> list[RecordResult]:
    """Set HasOptedOutOfEmail on (record id, opted out) pairs: sObject Collections of 200, in input order."""
    return client.update_many(sobject, [{"Id": record_id, "HasOptedOutOfEmail": value} for record_id, value in updates])
