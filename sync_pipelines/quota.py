"""How a step that calls Marketo or Salesforce fails: quota stops are final, transient failures retry.

A daily quota (Marketo 607, the bulk export allowance, Salesforce REQUEST_LIMIT_EXCEEDED) does not come
back by retrying: the step must end at once with a message a data engineer can act on (what ran out and
when it resets), not a traceback, and is never retried. Every write is keyed and cursors move only after
commits, so the next run after the reset picks up where this one stopped.

A transient failure that outlasted the client's own backoff (a service answering 5xx for minutes, a
dropped connection, PostgreSQL restarting) asks Dagster to retry the step (dg.RetryRequested): this is
the sync's one retry mechanism. Run retries are off in deploy/dagster.yaml and the sensors do not
re-request failed runs, so a failure is retried once over, at most STEP_RETRIES times, then the run fails
and shows in the UI. Anything else (a bug, bad data) fails at once: retrying it would change nothing.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg
import httpx
import psycopg
import requests

from sync_pipelines.marketo.errors import MarketoQuotaExceeded, TransientMarketoError
from sync_pipelines.salesforce.errors import SalesforceQuotaExceeded, SalesforceRequestError
from sync_pipelines.store import DatabaseUrlError

STEP_RETRIES = 2
STEP_RETRY_WAIT_SECONDS = 60  # long enough for a short outage or a failover to pass

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


def is_transient(error: BaseException) -> bool:
    """A failure that a later attempt may not meet: the service or the network, not our code or data."""
    if isinstance(error, SalesforceRequestError):
        return error.status is None or error.status >= 500
    if isinstance(error, DatabaseUrlError):  # a wrong SYNC_DATABASE_URL: configuration, not an outage
        return False
    return isinstance(
        error, (TransientMarketoError, httpx.TransportError, requests.ConnectionError, requests.Timeout,
                psycopg.OperationalError)
    )


def stops_cleanly_on_quota(fn: F) -> F:
    """Decorate an asset function (under @dg.asset): a used-up quota becomes a clean dg.Failure that is
    never retried; a transient failure retries the step (STEP_RETRIES times, STEP_RETRY_WAIT_SECONDS apart)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MarketoQuotaExceeded, SalesforceQuotaExceeded) as error:
            # `from None`: the quota message says it all; the client's stack would be noise.
            raise quota_failure(error) from None
        except Exception as error:
            if is_transient(error):
                raise dg.RetryRequested(max_retries=STEP_RETRIES, seconds_to_wait=STEP_RETRY_WAIT_SECONDS) from error
            raise

    return wrapper  # type: ignore[return-value]
