"""Exceptions raised by the Marketo client, and the rules that sort Marketo error codes.

Messages never contain tokens, client secrets or personal data: they carry the Marketo code,
Marketo's own message for that code and, at most, the API path that failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

# Marketo resets its daily API quota and bulk-export allowance at midnight US Central.
_MARKETO_QUOTA_ZONE = ZoneInfo("America/Chicago")

# Response-level codes (errors[].code, always compared as strings).
TOKEN_CODES = frozenset({"600", "601", "602"})  # empty / invalid / expired token: renew and replay
RATE_LIMIT_CODE = "606"  # more than 100 calls in 20 s: wait for the window to pass
TRANSIENT_CODES = frozenset({"604", "606", "608", "611", "615", "713"})
DAILY_QUOTA_CODE = "607"
BULK_QUEUE_CODE = "1029"  # "Too many jobs in queue", "Export daily quota exceeded", "Job already queued"


class MarketoError(Exception):
    """A Marketo call failed. `code` is Marketo's error code (or an HTTP status) as a string."""

    def __init__(self, code: str | int, message: str):
        self.code = str(code)
        self.message = message
        super().__init__(f"Marketo error {self.code}: {message}")


class MarketoReadOnlyError(RuntimeError):
    """A write asked of a read-only client (a dry run's): refused before anything is sent."""

    def __init__(self, path: str):
        super().__init__(f"Read-only Marketo client (a dry run sends nothing): refused to send {path}")


class MarketoAuthError(MarketoError):
    """The identity endpoint refused the client credentials (HTTP 401)."""


class MarketoQuotaExceeded(MarketoError):
    """A daily allowance is used up (607 API quota, 1029 export quota, or the client's own budget).

    Retrying is pointless until `resets_at`, the next midnight US Central (as a UTC datetime).
    """

    def __init__(self, code: str | int, message: str, *, now: datetime | None = None):
        self.resets_at = next_quota_reset(now)
        super().__init__(
            code, f"{message}; the quota resets at midnight US Central ({self.resets_at:%Y-%m-%dT%H:%M:%SZ})"
        )
        self.message = message


class MarketoSchemaError(MarketoError):
    """The instance's lead schema lacks fields the sync needs."""


class TransientMarketoError(MarketoError):
    """A failure worth retrying with backoff (rate limits, timeouts, 5xx, dropped connections)."""


def next_quota_reset(now: datetime | None = None) -> datetime:
    """The next midnight in US Central time, returned in UTC."""
    central_now = (now or datetime.now(timezone.utc)).astimezone(_MARKETO_QUOTA_ZONE)
    next_midnight = datetime.combine(central_now.date() + timedelta(days=1), datetime.min.time())
    return next_midnight.replace(tzinfo=_MARKETO_QUOTA_ZONE).astimezone(timezone.utc)


def error_for_code(code: str, message: str) -> MarketoError:
    """Map one Marketo response-level error to the exception the client raises for it."""
    if code == DAILY_QUOTA_CODE:
        return MarketoQuotaExceeded(code, f"Marketo daily API call quota exceeded ({message})")
    if code == BULK_QUEUE_CODE and "quota" in message.lower():
        return MarketoQuotaExceeded(code, f"Marketo daily bulk export quota exceeded ({message})")
    if code in TRANSIENT_CODES:
        return TransientMarketoError(code, message)
    return MarketoError(code, message)
