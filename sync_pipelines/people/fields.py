"""The fixed standard mapping from Marketo lead fields to the Actions person table (not configurable)."""

# Marketo REST name -> Actions column, for the 11 synced fields.
SYNCED_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "sfdcContactId": "salesforce_contact_id",
    "sfdcLeadId": "salesforce_lead_id",
    "id": "marketo_id",
    "company": "company",
    "title": "title",
    "email": "email",
    "phone": "phone",
    "linkedInProfileURL": "linkedin_url",
    "leadSource": "source",
}

# What else the sync reads: who owns the person in Salesforce, and what the send check needs.
SUPPORT_FIELDS = {
    "sfdcType": "salesforce_type",
    "sfdcLeadOwnerId": "owner_id",
    "unsubscribed": "unsubscribed",
    "emailInvalid": "email_invalid",  # a hard bounce: the send check blocks the person
    "updatedAt": "marketo_updated_at",
}

EXTRACT_FIELDS = {**SYNCED_FIELDS, **SUPPORT_FIELDS}

# Without these the sync cannot run: the 11 synced fields and the owner (which people qualify). The other
# support fields only refine it (lead or contact, the send check's flags, the change time): an instance that
# lacks one is synced without it, with a warning.
REQUIRED_FIELDS = [*SYNCED_FIELDS, "sfdcLeadOwnerId"]
OPTIONAL_FIELDS = [name for name in EXTRACT_FIELDS if name not in REQUIRED_FIELDS]

# A change to one of these in Marketo can change the Actions person table.
WATCHED_FIELDS = [name for name in EXTRACT_FIELDS if name not in ("id", "updatedAt")]
