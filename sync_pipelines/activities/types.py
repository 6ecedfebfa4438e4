"""The 8 Marketo custom activity types of Actions' sales activities, and which log column feeds each attribute.

Every type carries `actionsActivityId` (the Actions activity id): Marketo custom activities have no
idempotency key, so this attribute is how an in-doubt batch is read back and checked before a resend.
Marketo allows 10 custom types and 20 secondary attributes per type; we use 8 types and at most 8.
"""

from dataclasses import dataclass

# The kinds Salesforce receives as Tasks (or BCC mail): the seller's sent emails and calls. Defined with
# the activity log's SQL in the store, which may not import this domain; re-exported here.
from sync_pipelines.store.activities import CALL_TASK_TYPE, EMAIL_TASK_TYPE  # noqa: F401

# The namespace prefix Adobe recommends for custom type API names.
API_NAME_PREFIX = "actions"
ACTIVITY_ID_ATTRIBUTE = "actionsActivityId"


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a custom activity type, filled from one column of the activity log."""

    api_name: str
    name: str
    data_type: str
    column: str

    def to_marketo(self, *, primary: bool = False) -> dict:
        spec = {"apiName": self.api_name, "name": self.name, "dataType": self.data_type}
        return {**spec, "isPrimary": True} if primary else spec


@dataclass(frozen=True)
class ActivityTypeSpec:
    """One custom activity type: its display name (= the log's activity_type), trigger and filter names."""

    name: str
    api_name: str
    trigger_name: str
    filter_name: str
    primary: AttributeSpec
    attributes: tuple[AttributeSpec, ...]

    def create_request(self) -> dict:
        """The body of POST /rest/v1/activities/external/type.json."""
        return {
            "apiName": self.api_name,
            "name": self.name,
            "triggerName": self.trigger_name,
            "filterName": self.filter_name,
            "description": f"Actions sales activity: {self.name}",
            "primaryAttribute": self.primary.to_marketo(primary=True),
        }

    def attribute_requests(self) -> list[dict]:
        return [attribute.to_marketo() for attribute in self.attributes]


def _attribute(api_name: str, name: str, data_type: str, column: str) -> AttributeSpec:
    return AttributeSpec(api_name, name, data_type, column)


ACTIVITY_ID = _attribute(ACTIVITY_ID_ATTRIBUTE, "Actions Activity ID", "string", "activity_id")
SELLER = _attribute("salesPersonId", "Marketo Sales Person ID", "string", "seller_id")
SUBJECT = _attribute("emailSubject", "Email Subject", "string", "email_subject")
TEMPLATE = _attribute("templateName", "Sales Template Name", "string", "template_name")
CAMPAIGN_NAME = _attribute("campaignName", "Sales Campaign Name", "string", "campaign_name")
CAMPAIGN_ID = _attribute("campaignId", "Sales Campaign ID", "string", "campaign_id")
LINK = _attribute("link", "Link", "link", "link_clicked")
BOUNCE = _attribute("bounceDetails", "Details", "string", "bounce_details")
CALL_OUTCOME = _attribute("callSubject", "Sales Call Subject", "string", "call_outcome")
CALL_STATUS = _attribute("callStatus", "Sales Call Status", "string", "call_status")
CALL_DURATION = _attribute("callDuration", "Sales Call Duration", "integer", "call_duration_seconds")

_COMMON = (ACTIVITY_ID, SELLER)
_EMAIL = (*_COMMON, TEMPLATE, CAMPAIGN_NAME)


def _type(name: str, api_suffix: str, trigger: str, filter_: str, primary: AttributeSpec,
          *attributes: AttributeSpec) -> ActivityTypeSpec:
    return ActivityTypeSpec(name, f"{API_NAME_PREFIX}{api_suffix}", trigger, filter_, primary, attributes)


ACTIVITY_TYPES: tuple[ActivityTypeSpec, ...] = (
    _type("Sales Email Sent", "SalesEmailSent", "Is Sent Sales Email", "Was Sent Sales Email", SUBJECT, *_EMAIL),
    _type("Sales Email Opened", "SalesEmailOpened", "Opens Sales Email", "Opened Sales Email", SUBJECT, *_EMAIL),
    _type("Sales Email Clicked", "SalesEmailClicked", "Clicks Sales Email", "Clicked Sales Email", SUBJECT,
          *_EMAIL, LINK),
    _type("Sales Email Replied", "SalesEmailReplied", "Replies to Sales Email", "Replied to Sales Email", SUBJECT,
          *_COMMON, CAMPAIGN_NAME),
    _type("Sales Email Bounced", "SalesEmailBounced", "Sales Email Bounces", "Sales Email Bounced", SUBJECT,
          *_COMMON, TEMPLATE, BOUNCE),
    _type("Received Sales Call", "ReceivedSalesCall", "Receives Sales Call", "Received Sales Call", CALL_OUTCOME,
          *_COMMON, CALL_STATUS, CALL_DURATION, CAMPAIGN_NAME),
    _type("Added to Sales Campaign", "AddedToSalesCampaign", "Is Added to Sales Campaign",
          "Was Added to Sales Campaign", CAMPAIGN_NAME, *_COMMON, CAMPAIGN_ID),
    _type("Removed from Sales Campaign", "RemovedFromSalesCampaign", "Is Removed from Sales Campaign",
          "Was Removed from Sales Campaign", CAMPAIGN_NAME, *_COMMON, CAMPAIGN_ID),
)
TYPES_BY_NAME = {spec.name: spec for spec in ACTIVITY_TYPES}
# The dialer's call statuses (the contract's list). Another value is quarantined, per destination;
# a blank one counts as missing (call_status is optional).
CALL_STATUSES = ("completed", "no answer", "cancelled", "failed")
