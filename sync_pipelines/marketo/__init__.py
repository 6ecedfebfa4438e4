"""Marketo Engage REST + Bulk Lead Extract client on httpx (tokens, limits, retries, exports)."""

from .client import ActivityPage, LeadChangePage, MarketoClient
from .errors import MarketoAuthError, MarketoError, MarketoQuotaExceeded, MarketoSchemaError

__all__ = [
    "ActivityPage",
    "LeadChangePage",
    "MarketoAuthError",
    "MarketoClient",
    "MarketoError",
    "MarketoQuotaExceeded",
    "MarketoSchemaError",
]
