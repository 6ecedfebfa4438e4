"""The documented size limits of a request, as the real services answer them.

- Marketo: a URI of at most 8 KB (else HTTP 414) and a body of at most 1 MB (else 413).
- Salesforce REST: the URI and headers together at most 16,384 bytes; a longer URI alone is 414 URI Too Long,
  otherwise 431 Request Header Fields Too Large.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class Limits:
    max_uri_bytes: int
    max_uri_and_headers_bytes: int | None = None
    max_body_bytes: int | None = None


MARKETO = Limits(max_uri_bytes=8 * 1024, max_body_bytes=1024 * 1024)
SALESFORCE = Limits(max_uri_bytes=16_384, max_uri_and_headers_bytes=16_384)


def _uri_bytes(scope: Scope) -> int:
    query = scope.get("query_string", b"")
    return len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)


def refusal(scope: Scope, limits: Limits) -> tuple[int, str] | None:
    """(status, reason) when the request breaks a limit, else None."""
    uri = _uri_bytes(scope)
    if uri > limits.max_uri_bytes:
        return 414, "URI Too Long"
    headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))  # "name: value\r\n"
    if limits.max_uri_and_headers_bytes is not None and uri + headers > limits.max_uri_and_headers_bytes:
        return 431, "Request Header Fields Too Large"
    if limits.max_body_bytes is not None:
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
            return 413, "Request Entity Too Large"
    return None


class RequestLimits:
    """ASGI middleware: refuse a request that breaks `limits` before the app sees it."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = refusal(scope, self.limits) if scope["type"] == "http" else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        await PlainTextResponse(f"{status} {reason}", status_code=status)(scope, receive, send)
