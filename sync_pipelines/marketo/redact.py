"""Keep query strings out of httpx's request log.

httpx logs every request URL at INFO ("HTTP Request: GET https://...?..."). Marketo's identity call
carries the client secret in its query string (that is the documented contract), and lead look-ups
can carry emails as filter values. This filter rewrites those log records to show the path only.
"""

from __future__ import annotations

import logging

import httpx


class StripQueryStrings(logging.Filter):
    """Replace any httpx.URL argument of a log record by the same URL without its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) and arg.query else arg for arg in record.args
            )
        return True


def install_query_redaction() -> None:
    """Attach the filter to the "httpx" logger once (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, StripQueryStrings) for f in logger.filters):
        logger.addFilter(StripQueryStrings())
