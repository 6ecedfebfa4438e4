"""Salesforce client on simple-salesforce (REST, queries, sObject Collections, getDeleted).

Owns: every call to Salesforce, SOQL quoting, and the mapping of its errors. The bottom layer: imports only
the standard library, third-party packages (simple-salesforce, requests, tenacity) and `sync_pipelines.chunks`,
never the rest of the project.
"""

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
