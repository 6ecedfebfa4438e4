"""The "lost_reply" fault of both emulators: the write runs, then its answer never arrives.

A real service can commit a write and lose the answer on the way back (a proxy timeout, a reset
connection, a crash between commit and reply). The client then cannot know whether the write ran.
The emulators model it after the handler has run: the status line and headers go out, then the
connection closes before the body. httpx reports it as RemoteProtocolError, requests as
ChunkedEncodingError: both are "no answer", never a refusal.
"""

from __future__ import annotations

import logging

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

LOST_REPLY = "lost_reply"
_PROMISED_BODY_BYTES = 4096  # announced but never sent: the client waits for a body that does not come


class LostReply(Response):
    """An ASGI answer that sends the headers and closes the connection instead of the body."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-length", str(_PROMISED_BODY_BYTES).encode())]})
        # Returning without the body makes uvicorn close the connection (it logs why; filtered below).


class _HideLostReplies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_HideLostReplies())
