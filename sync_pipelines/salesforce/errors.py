"""Exceptions of the Salesforce client. Messages carry status, errorCode and resource only:
never tokens, secrets, SOQL text or record values (which may hold personal data)."""

from __future__ import annotations


class SalesforceClientError(Exception):
    """Base class of everything the Salesforce client raises."""


class SalesforceReadOnlyError(SalesforceClientError):
    """A write asked of a read-only client (a dry run's): refused before anything is sent."""

    def __init__(self, resource: str):
        super().__init__(f"Read-only Salesforce client (a dry run sends nothing): refused a {resource} write")


class SalesforceAuthError(SalesforceClientError):
    """Salesforce refused the configured credentials."""


class SalesforceQuotaExceeded(SalesforceClientError):
    """REQUEST_LIMIT_EXCEEDED: the org's API request limit is used up; retrying now will not help."""


class SalesforceRequestError(SalesforceClientError):
    """A call Salesforce refused (after any retries). `error_code` is Salesforce's errorCode."""

    def __init__(self, status: int | None, error_code: str | None, resource: str):
        super().__init__(f"Salesforce {resource} call failed: HTTP {status} {error_code or 'unknown error'}")
        self.status = status
        self.error_code = error_code
        self.resource = resource


class SalesforceUnanswered(SalesforceClientError):
    """No answer reached us (connection dropped, timeout, 5xx other than 503): the call may have run.

    A write that raises this must not be replayed blindly: read back what it wrote first.
    """

    def __init__(self, resource: str, cause: str):
        super().__init__(f"Salesforce {resource} call went unanswered ({cause}); it may have run")
        self.resource = resource
        self.cause = cause
