"""Stop a run cleanly when a service's quota is used up.

A daily quota (Marketo 607, the bulk export allowance, Salesforce REQUEST_LIMIT_EXCEEDED) does not come
back by retrying: the step must end at once with a message a data engineer can act on (what ran out and
when it resets), not a traceback. Every write is keyed and cursors move only after commits, so the next
run after the reset picks up where this one stopped.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg

from sync_pipelines.marketo.errors import MarketoQuotaExceeded
from sync_pipelines.salesforce.errors import SalesforceQuotaExceeded

F = TypeVar("F", bound=Callable[..., Any])


def quota_failure(error: MarketoQuotaExceeded | SalesforceQuotaExceeded) -> dg.Failure:
    """The dg.Failure that reports a used-up quota: what ran out, when it resets, that a rerun resumes."""
    if isinstance(error, MarketoQuotaExceeded):
        what = f"Marketo quota exhausted (error {error.code}): {error.message}"
        resets = f"It resets at {error.resets_at:%Y-%m-%d %H:%M} UTC (midnight US Central)"
        metadata = {"service": "marketo", "error_code": error.code, "quota_resets_at": error.resets_at.isoformat()}
    else:
        what = "Salesforce API request limit exhausted (REQUEST_LIMIT_EXCEEDED)"
        resets = "Requests free up over Salesforce's rolling 24-hour window"
        metadata = {"service": "salesforce", "error_code": "REQUEST_LIMIT_EXCEEDED"}
    return dg.Failure(
        description=f"{what}. {resets}; run the job again then: it resumes where this run stopped.",
        metadata=metadata,
        allow_retries=False,  # a retry policy would only spend the wait spinning
    )


def stops_cleanly_on_quota(fn: F) -> F:
    """Decorate an asset function (under @dg.asset): a used-up quota becomes a clean dg.Failure."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MarketoQuotaExceeded, SalesforceQuotaExceeded) as error:
            # `from None`: the quota message says it all; the client's stack would be noise.
            raise quota_failure(error) from None

    return wrapper  # type: ignore[return-value]
