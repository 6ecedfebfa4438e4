"""Marketo Engage REST + Bulk Lead Extract client on httpx (tokens, limits, retries, exports).

Owns: every HTTP call to Marketo and the mapping of its errors. The bottom layer: imports only the
standard library, third-party packages (httpx, tenacity, pandas, pyarrow) and `sync_pipelines.chunks`, never
the rest of the project.
"""

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
