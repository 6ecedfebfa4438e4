"""Pure transforms of the activity fan-out: activity rows in, Marketo activities / Salesforce Tasks out.

No I/O here: the assets read the rows (store/activities.py) and send what these functions build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sync_pipelines.activities.types import (
    ACTIVITY_ID_ATTRIBUTE,
    CALL_STATUSES,
    CALL_TASK_TYPE,
    TYPES_BY_NAME,
    AttributeSpec,
)

SUBJECT_MAX = 255  # Task.Subject and Task.CallDisposition hold at most 255 characters
DESCRIPTION_MAX = 32_000  # Task.Description
EXTERNAL_ID_FIELD = "Actions_Activity_Id__c"


@dataclass
class Prepared:
    """What a transform made of a batch: payloads keyed by activity id, and rows it refused (with why)."""

    payloads: dict[int, dict] = field(default_factory=dict)
    quarantined: dict[int, str] = field(default_factory=dict)


def _value(row: dict, column: str):
    value = row.get(column)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _attribute_value(spec: AttributeSpec, value):
    if spec.data_type == "integer":
        return int(value)
    return str(value)


def _utc(moment) -> datetime:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _bad_call_status(row: dict) -> str | None:
    """Why the row's call_status cannot be logged, or None (blank counts as missing: it is optional)."""
    status = _value(row, "call_status")
    if status is None or row["activity_type"] != CALL_TASK_TYPE or status in CALL_STATUSES:
        return None
    return f"call_status {status[:40]!r} is not one of {', '.join(CALL_STATUSES)}"


def _local_date(moment, time_zone) -> str:
    """The calendar date of `moment` in the seller's IANA time zone (ValueError for an unknown zone)."""
    name = time_zone if isinstance(time_zone, str) and time_zone.strip() else "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown seller time zone {name[:60]!r}") from None
    return _utc(moment).astimezone(zone).date().isoformat()


def marketo_activities(rows: pd.DataFrame, type_ids: dict[str, int]) -> Prepared:
    """Marketo custom activities (POST activities/external.json items) for the rows of a batch.

    `type_ids` maps the type's display name (the log's activity_type) to its Marketo id. A row with
    no value for its type's primary attribute cannot be inserted: it is quarantined with the reason.
    Missing secondary attributes are simply left out (Marketo omits empty attributes too).
    """
    prepared = Prepared()
    for row in rows.to_dict("records"):  # plain dicts: a Series per row costs more than the work
        activity_id = int(row["activity_id"])
        spec = TYPES_BY_NAME[row["activity_type"]]
        primary = _value(row, spec.primary.column)
        if primary is None:
            prepared.quarantined[activity_id] = f"missing {spec.primary.column} (the primary attribute of {spec.name})"
            continue
        if bad := _bad_call_status(row):
            prepared.quarantined[activity_id] = bad
            continue
        attributes = []
        for attribute in spec.attributes:
            value = _value(row, attribute.column)
            if value is not None:
                attributes.append({"apiName": attribute.api_name, "value": _attribute_value(attribute, value)})
        prepared.payloads[activity_id] = {
            "leadId": int(row["marketo_id"]),
            "activityDate": _utc(row["occurred_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "activityTypeId": type_ids[spec.name],
            "primaryAttributeValue": str(primary),
            "attributes": attributes,
        }
    return prepared


def delivered_in_read_back(activities: list[dict], activity_ids: set[int]) -> dict[int, str]:
    """Activity id -> marketoGUID for the read-back activities that carry one of `activity_ids`.

    The read-back may hold other activities of the same people; only our attribute identifies ours.
    """
    found: dict[int, str] = {}
    for activity in activities:
        for attribute in activity.get("attributes") or []:
            if ACTIVITY_ID_ATTRIBUTE in (attribute.get("apiName"), attribute.get("name")) or attribute.get(
                "name"
            ) == "Actions Activity ID":
                try:
                    activity_id = int(attribute.get("value"))
                except (TypeError, ValueError):
                    continue
                if activity_id in activity_ids:
                    found.setdefault(activity_id, str(activity.get("marketoGUID") or activity.get("id")))
    return found


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def salesforce_tasks(rows: pd.DataFrame) -> Prepared:
    """Completed Tasks (Email or Call subtype) on the person's Contact, else Lead, keyed by activity id.

    ActivityDate is the day in the seller's time zone (`seller_time_zone`, UTC when absent). A Contact's
    Task carries `what_id` as WhatId (see salesforce_delivery.what_id_rule).

    Subject and call disposition are clipped to their 255-character fields (the full text stays in
    Actions and Marketo); the description carries the email text or the call notes.
    """
    prepared = Prepared()
    for row in rows.to_dict("records"):  # plain dicts: a Series per row costs more than the work
        activity_id = int(row["activity_id"])
        # The Contact, else the Contact a converted Lead became, else the Lead.
        contact_id = _value(row, "salesforce_contact_id") or _value(row, "converted_contact_id")
        who_id = contact_id or _value(row, "salesforce_lead_id")
        if who_id is None:
            prepared.quarantined[activity_id] = "no Salesforce lead or contact id"
            continue
        if bad := _bad_call_status(row):
            prepared.quarantined[activity_id] = bad
            continue
        try:
            # The seller's calendar day: a call at 08:00 in Tokyo is on that day, not on the UTC day before.
            activity_date = _local_date(row["occurred_at"], row.get("seller_time_zone"))
        except ValueError as exc:
            prepared.quarantined[activity_id] = str(exc)
            continue
        is_call = row["activity_type"] == CALL_TASK_TYPE
        task = {
            EXTERNAL_ID_FIELD: str(activity_id),
            "WhoId": who_id,
            "ActivityDate": activity_date,
            "Status": "Completed",
            "Priority": "Normal",
            "TaskSubtype": "Call" if is_call else "Email",
            "Type": "Call" if is_call else "Email",
        }
        if contact_id and _value(row, "what_id"):
            task["WhatId"] = row["what_id"]  # a Lead's Task relates to nothing else (no WhatId)
        owner = _value(row, "salesforce_user_id")
        if owner:
            task["OwnerId"] = owner
        if is_call:
            outcome = _value(row, "call_outcome")
            task["Subject"] = _clip(f"Call: {outcome}" if outcome else "Call", SUBJECT_MAX)
            task["CallType"] = "Outbound"
            duration = _value(row, "call_duration_seconds")
            if duration is not None:
                task["CallDurationInSeconds"] = int(duration)
            task["CallDisposition"] = _clip(_value(row, "call_status"), SUBJECT_MAX)
            task["Description"] = _clip(_value(row, "call_notes"), DESCRIPTION_MAX)
        else:
            task["Subject"] = _clip(f"Email: {_value(row, 'email_subject') or '(no subject)'}", SUBJECT_MAX)
            task["Description"] = _clip(_value(row, "email_body"), DESCRIPTION_MAX)
        prepared.payloads[activity_id] = {k: v for k, v in task.items() if v is not None}
    return prepared
