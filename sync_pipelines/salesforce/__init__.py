"""Salesforce client on simple-salesforce (REST, sObject Collections, getUpdated/getDeleted)."""

from sync_pipelines.salesforce.client import RecordResult, SalesforceClient
from sync_pipelines.salesforce.errors import (
    SalesforceAuthError,
    SalesforceClientError,
    SalesforceQuotaExceeded,
    SalesforceRequestError,
    SalesforceUnanswered,
)
from sync_pipelines.salesforce.soql import quote, soql_in

__all__ = [
    "RecordResult",
    "SalesforceAuthError",
    "SalesforceClient",
    "SalesforceClientError",
    "SalesforceQuotaExceeded",
    "SalesforceRequestError",
    "SalesforceUnanswered",
    "quote",
    "soql_in",
]
