"""The objects and fields the Salesforce emulator knows: Lead, Contact, Task, User, Account, Opportunity,
OpportunityContactRole.

Field facts follow the Salesforce Object Reference (see reference/api-notes.md section 10):
`TaskSubtype` is settable on create only, a Task's `IsClosed` follows `Status == "Completed"`, an
Opportunity's `IsClosed`/`IsWon` follow its `StageName` (Closed Won / Closed Lost),
`Name` on people is derived, system fields are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldSpec:
    """One field: its type, write rules and, for references, which objects it may point to."""

    name: str
    type: str  # id, reference, string, textarea, picklist, email, phone, url, boolean, int, date, datetime
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    length: int | None = None
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()
    restricted_picklist: bool = False


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject type with its key prefix (first three characters of its ids)."""

    name: str
    key_prefix: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)


def _system_fields() -> list[FieldSpec]:
    readonly = {"createable": False, "updateable": False}
    return [
        FieldSpec("Id", "id", nillable=False, **readonly),
        FieldSpec("CreatedDate", "datetime", nillable=False, **readonly),
        FieldSpec("LastModifiedDate", "datetime", nillable=False, **readonly),
        FieldSpec("SystemModstamp", "datetime", nillable=False, **readonly),
        FieldSpec("IsDeleted", "boolean", nillable=False, **readonly),
    ]


def _object(name: str, prefix: str, fields: list[FieldSpec], **kwargs: object) -> ObjectSpec:
    all_fields = _system_fields() + fields
    return ObjectSpec(name, prefix, {f.name: f for f in all_fields}, **kwargs)  # type: ignore[arg-type]


def _person_fields() -> list[FieldSpec]:
    return [
        FieldSpec("FirstName", "string", length=40),
        FieldSpec("LastName", "string", length=80),
        FieldSpec("Name", "string", createable=False, updateable=False),
        FieldSpec("Email", "email", length=80),
        FieldSpec("Phone", "phone", length=40),
        FieldSpec("Title", "string", length=128),
        FieldSpec("OwnerId", "reference", reference_to=("User",)),
        FieldSpec("HasOptedOutOfEmail", "boolean", nillable=False),
        FieldSpec("LeadSource", "picklist", length=255),
    ]


TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")

LEAD = _object(
    "Lead",
    "00Q",
    _person_fields()
    + [
        FieldSpec("Company", "string", length=255),
        FieldSpec("IsConverted", "boolean", nillable=False, createable=False, updateable=False),
        FieldSpec("ConvertedContactId", "reference", createable=False, updateable=False, reference_to=("Contact",)),
    ],
    required=("LastName", "Company"),
    defaults={"HasOptedOutOfEmail": False, "IsConverted": False},
)

CONTACT = _object(
    "Contact",
    "003",
    _person_fields() + [FieldSpec("AccountId", "reference", reference_to=("Account",))],
    required=("LastName",),
    defaults={"HasOptedOutOfEmail": False},
)

USER = _object(
    "User",
    "005",
    [
        FieldSpec("FirstName", "string", length=40),
        FieldSpec("LastName", "string", length=80),
        FieldSpec("Name", "string", createable=False, updateable=False),
        FieldSpec("Email", "email", length=128),
        FieldSpec("Username", "string", length=80),
        FieldSpec("IsActive", "boolean", nillable=False),
    ],
    required=("LastName",),
    defaults={"IsActive": True},
)

TASK = _object(
    "Task",
    "00T",
    [
        FieldSpec("WhoId", "reference", reference_to=("Lead", "Contact")),
        FieldSpec("WhatId", "reference", reference_to=("Account", "Opportunity", "Campaign", "Case")),
        FieldSpec("OwnerId", "reference", reference_to=("User",)),
        FieldSpec("Subject", "string", length=255),
        FieldSpec("ActivityDate", "date"),
        FieldSpec("Status", "picklist", nillable=False, picklist=TASK_STATUSES, restricted_picklist=True),
        FieldSpec("Priority", "picklist", nillable=False, picklist=("High", "Normal", "Low"), restricted_picklist=True),
        FieldSpec("Description", "textarea", length=32000),
        FieldSpec("TaskSubtype", "picklist", updateable=False, picklist=("Task", "Email", "ListEmail", "Call"),
                  restricted_picklist=True),
        FieldSpec("Type", "picklist", length=40, picklist=("Call", "Email", "Meeting", "Reply", "Other")),
        FieldSpec("CallDurationInSeconds", "int"),
        FieldSpec("CallType", "picklist", picklist=("Inbound", "Internal", "Outbound"), restricted_picklist=True),
        FieldSpec("CallDisposition", "string", length=255),
        FieldSpec("IsReminderSet", "boolean", nillable=False),
        FieldSpec("ReminderDateTime", "datetime"),
        FieldSpec("IsClosed", "boolean", nillable=False, createable=False, updateable=False),
        FieldSpec("Actions_Activity_Id__c", "string", length=255, external_id=True, unique=True),
        FieldSpec("Actions_Task_Id__c", "string", length=255, external_id=True, unique=True),
    ],
    defaults={"Status": "Not Started", "Priority": "Normal", "TaskSubtype": "Task", "IsReminderSet": False},
)

ACCOUNT = _object(
    "Account",
    "001",
    [
        FieldSpec("Name", "string", length=255),
        FieldSpec("OwnerId", "reference", reference_to=("User",)),
    ],
    required=("Name",),
)

CLOSED_STAGES = ("Closed Won", "Closed Lost")
OPPORTUNITY = _object(
    "Opportunity",
    "006",
    [
        FieldSpec("Name", "string", length=120),
        FieldSpec("AccountId", "reference", reference_to=("Account",)),
        FieldSpec("StageName", "picklist", nillable=False, picklist=(
            "Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review",
            *CLOSED_STAGES), restricted_picklist=True),
        FieldSpec("CloseDate", "date", nillable=False),
        FieldSpec("IsClosed", "boolean", nillable=False, createable=False, updateable=False),
        FieldSpec("IsWon", "boolean", nillable=False, createable=False, updateable=False),
        FieldSpec("OwnerId", "reference", reference_to=("User",)),
    ],
    required=("Name", "StageName", "CloseDate"),
)

OPPORTUNITY_CONTACT_ROLE = _object(
    "OpportunityContactRole",
    "00K",
    [
        FieldSpec("OpportunityId", "reference", nillable=False, updateable=False, reference_to=("Opportunity",)),
        FieldSpec("ContactId", "reference", nillable=False, reference_to=("Contact",)),
        FieldSpec("Role", "picklist", picklist=("Business User", "Decision Maker", "Economic Buyer",
                                                 "Evaluator", "Influencer", "Other")),
        FieldSpec("IsPrimary", "boolean", nillable=False),
    ],
    required=("OpportunityId", "ContactId"),
    defaults={"IsPrimary": False},
)

OBJECTS: dict[str, ObjectSpec] = {spec.name: spec for spec in (
    LEAD, CONTACT, USER, TASK, ACCOUNT, OPPORTUNITY, OPPORTUNITY_CONTACT_ROLE)}


def derive_fields(sobject: str, record: dict[str, object]) -> None:
    """Recompute the read-only fields that follow other fields."""
    if sobject == "Task":
        record["IsClosed"] = record.get("Status") == "Completed"
    elif sobject == "Opportunity":
        record["IsClosed"] = record.get("StageName") in CLOSED_STAGES
        record["IsWon"] = record.get("StageName") == "Closed Won"
    elif "LastName" in OBJECTS[sobject].fields:
        parts = [record.get("FirstName"), record.get("LastName")]
        record["Name"] = " ".join(str(p) for p in parts if p) or None


def describe(spec: ObjectSpec) -> dict[str, object]:
    """The `GET /sobjects/{type}/describe` document (the subset clients read)."""
    return {
        "name": spec.name,
        "label": spec.name,
        "keyPrefix": spec.key_prefix,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "replicateable": True,
        "fields": [
            {
                "name": f.name,
                "label": f.name,
                "type": f.type,
                "length": f.length or 0,
                "createable": f.createable,
                "updateable": f.updateable,
                "nillable": f.nillable,
                "externalId": f.external_id,
                "unique": f.unique,
                "idLookup": f.name == "Id" or f.external_id,
                "referenceTo": list(f.reference_to),
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": spec.defaults.get(f.name) == v}
                    for v in f.picklist
                ],
                "restrictedPicklist": f.restricted_picklist,
            }
            for f in spec.fields.values()
        ],
    }
