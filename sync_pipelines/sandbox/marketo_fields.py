"""What the Marketo sandbox knows about lead fields and activity types, plus value formatting.

Field names, types and ids are the ones the describe endpoints publish; the type ids match
Marketo's standard activity types (12 New Lead, 13 Change Data Value, 32 Merge Leads, 37 Delete Lead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LeadField:
    """One lead field as the describe endpoints show it."""

    id: int
    name: str
    display_name: str
    data_type: str
    length: int | None = None
    updateable: bool = True
    crm_managed: bool = False


LEAD_FIELDS: tuple[LeadField, ...] = (
    LeadField(1, "id", "Id", "integer", updateable=False),
    LeadField(2, "firstName", "First Name", "string", 255),
    LeadField(3, "lastName", "Last Name", "string", 255),
    LeadField(4, "email", "Email Address", "email", 255),
    LeadField(5, "phone", "Phone Number", "phone", 255),
    LeadField(6, "company", "Company Name", "string", 255),
    LeadField(7, "title", "Job Title", "string", 255),
    LeadField(8, "linkedInProfileURL", "LinkedIn Profile URL", "url", 255),
    LeadField(9, "leadSource", "Lead Source", "string", 255),
    LeadField(10, "sfdcType", "SFDC Type", "string", 255, crm_managed=True),
    LeadField(11, "sfdcLeadId", "SFDC Lead ID", "string", 18, crm_managed=True),
    LeadField(12, "sfdcContactId", "SFDC Contact ID", "string", 18, crm_managed=True),
    LeadField(13, "sfdcAccountId", "SFDC Account ID", "string", 18, crm_managed=True),
    LeadField(14, "sfdcLeadOwnerId", "Lead Owner Id", "string", 18, crm_managed=True),
    LeadField(15, "unsubscribed", "Unsubscribed", "boolean"),
    LeadField(16, "emailInvalid", "Email Invalid", "boolean"),
    LeadField(17, "leadScore", "Lead Score", "integer"),
    LeadField(18, "city", "City", "string", 255),
    LeadField(19, "createdAt", "Created At", "datetime", updateable=False),
    LeadField(20, "updatedAt", "Updated At", "datetime", updateable=False),
)
FIELDS_BY_NAME = {field.name: field for field in LEAD_FIELDS}

# Get Leads by Filter Type accepts these standard fields (api-notes section 3); the sandbox has no
# custom fields. Names listed but not held (cookies, twitterId, ...) simply match nothing.
FILTER_TYPES = frozenset({
    "cookies", "email", "facebookId", "id", "leadPartitionId", "linkedInId", "sfdcAccountId",
    "sfdcContactId", "sfdcLeadId", "sfdcLeadOwnerId", "sfdcOpptyId", "twitterId",
})
DEFAULT_LEAD_FIELDS = ("id", "email", "updatedAt", "createdAt", "firstName", "lastName")

NEW_LEAD, CHANGE_DATA_VALUE, MERGE_LEADS, DELETE_LEAD = 12, 13, 32, 37


def _type(type_id: int, name: str, primary: tuple[str, str], *attributes: tuple[str, str]) -> dict:
    return {
        "id": type_id,
        "name": name,
        "description": f"Sandbox activity type: {name}",
        "primaryAttribute": {"name": primary[0], "dataType": primary[1]},
        "attributes": [{"name": n, "dataType": t} for n, t in attributes],
    }


ACTIVITY_TYPES: tuple[dict, ...] = (
    _type(1, "Visit Webpage", ("Webpage ID", "integer"), ("Client IP Address", "string")),
    _type(6, "Send Email", ("Mailing ID", "integer"), ("Campaign Run ID", "integer")),
    _type(10, "Open Email", ("Mailing ID", "integer"), ("Device", "string")),
    _type(11, "Click Email", ("Mailing ID", "integer"), ("Link", "string")),
    _type(NEW_LEAD, "New Lead", ("Lead ID", "integer"), ("Source Type", "string")),
    _type(CHANGE_DATA_VALUE, "Change Data Value", ("Lead Attribute", "integer"),
          ("New Value", "string"), ("Old Value", "string"), ("Reason", "string"),
          ("Source", "string")),
    _type(MERGE_LEADS, "Merge Leads", ("Lead ID", "integer"), ("Merge Ids", "string"),
          ("Merged in Sales", "boolean"), ("Merge Source", "string")),
    _type(DELETE_LEAD, "Delete Lead", ("Lead ID", "integer"), ("Remove from CRM", "boolean")),
)
ACTIVITY_TYPE_IDS = frozenset(t["id"] for t in ACTIVITY_TYPES)


def format_timestamp(value: datetime | pd.Timestamp) -> str:
    """ISO-8601 in UTC with a Z, seconds precision: Marketo's wire format."""
    return pd.Timestamp(value).tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> pd.Timestamp:
    """Parse an ISO-8601 date-time with Z or an offset; raise ValueError without a zone."""
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is None:
        raise ValueError(f"date-time without a time zone: {text!r}")
    return stamp.tz_convert(UTC)


def to_json_value(value: Any) -> Any:
    """A cell of the leads frame as a JSON value (None for missing, ISO strings for times)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return format_timestamp(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def to_change_text(value: Any) -> str | None:
    """A value as a Data Value Change activity shows it: text, or None when empty."""
    value = to_json_value(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def lead_records(frame: pd.DataFrame, fields: list[str]) -> list[dict]:
    """Rows of a frame indexed by id as Marketo lead dicts holding the requested fields."""
    columns = [name for name in fields if name != "id"]
    records = []
    for lead_id, row in zip(frame.index, frame[columns].itertuples(index=False, name=None)):
        record = {"id": int(lead_id)}
        record.update((name, to_json_value(value)) for name, value in zip(columns, row))
        records.append(record)
    return records

def coerce_value(field: LeadField, value: Any) -> Any:
    """Check a value written by an admin call against the field type; raise ValueError if wrong."""
    if value is None:
        if field.data_type in ("boolean", "integer"):
            raise ValueError(f"{field.name} cannot be empty")
        return None
    if field.data_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{field.name} must be true or false")
        return value
    if field.data_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field.name} must be an integer")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{field.name} must be text")
    return value
