"""One authorised, throttled, retried HTTP call to Marketo's /rest or /bulk endpoints.

Every method of `MarketoClient` goes through `MarketoApi.call` (JSON envelope) or
`MarketoApi.download` (a bulk file). This is the only place that knows about tokens, the limiter,
the call counter, Marketo's envelope and which failures are worth a retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from .auth import TokenProvider
from .errors import (
    RATE_LIMIT_CODE,
    TOKEN_CODES,
    MarketoError,
    MarketoQuotaExceeded,
    TransientMarketoError,
    error_for_code,
)
from .limiter import CallLimiter
from .redact import install_query_redaction

log = logging.getLogger(__name__)
T = TypeVar("T")

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
MAX_URI_CHARS = 7000


class _TokenRejected(MarketoError):
    """Marketo answered 600/601/602: renew the token and replay (not a retry)."""


class MarketoApi:
    """HTTP plumbing shared by the REST and bulk parts of the client. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        limiter: CallLimiter,
        daily_call_budget: int | None,
        timeout_seconds: float,
        max_retries: int,
        retry_backoff_seconds: float,
    ):
        install_query_redaction()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_seconds)
        self._tokens = TokenProvider(self._http, client_id, client_secret)
        self.limiter = limiter
        self._daily_call_budget = daily_call_budget
        self._max_retries = max_retries
        self._backoff = wait_exponential_jitter(
            initial=retry_backoff_seconds, max=60 * retry_backoff_seconds, jitter=retry_backoff_seconds
        )
        self._calls_lock = threading.Lock()
        self._calls_used = 0

    @property
    def calls_used(self) -> int:
        """HTTP requests sent to /rest or /bulk (retries and token replays included)."""
        return self._calls_used

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        form: dict[str, str] | None = None,
        retry_if: Callable[[TransientMarketoError], bool] | None = None,
    ) -> dict:
        """Send one API request and return its envelope once `success` is true.

        Retries transient failures; raises MarketoQuotaExceeded / MarketoError otherwise.
        `retry_if` narrows which transient failures are retried (a write that must not be sent
        twice retries only refusals that guarantee nothing ran); the others are raised as they are.
        """

        def send(headers: dict[str, str]) -> dict:
            response = self._send(method, path, headers, params=params, json=json, data=form)
            return _checked_envelope(response)

        return self._retrying(path, lambda: self._authorized(send), retry_if)

    def get(self, path: str, params: dict[str, Any]) -> dict:
        """GET with query parameters; switches to POST + `_method=GET` (form body) when the URI
        would pass ~7 KB, since Marketo refuses URIs over 8 KB with HTTP 414."""
        uri = str(self._http.base_url.join(path).copy_merge_params(params))
        if len(uri) <= MAX_URI_CHARS:
            return self.call("GET", path, params=params)
        return self.call("POST", path, params={"_method": "GET"}, form={k: str(v) for k, v in params.items()})

    def download(self, path: str, destination: str, *, sha256: str | None = None) -> int:
        """Stream a bulk file to `destination` (created or truncated); return its size in bytes.

        A dropped connection resumes with a Range request from the bytes already on disk. When
        `sha256` ("sha256:<hex>" or hex) is given the file must match it, else it is fetched again.
        """
        open(destination, "wb").close()
        expected = sha256.lower().removeprefix("sha256:") if sha256 else None

        def attempt() -> int:
            size = self._authorized(lambda headers: self._download_rest(path, destination, headers))
            if expected and _file_sha256(destination) != expected:
                open(destination, "wb").close()
                raise TransientMarketoError("checksum", f"{path}: SHA-256 does not match fileChecksum")
            return size

        return self._retrying(path, attempt)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- retries, token replay, sending -------------------------------------------------------

    def _retrying(
        self, path: str, attempt: Callable[[], T], retry_if: Callable[[TransientMarketoError], bool] | None = None
    ) -> T:
        should_retry = retry_if or (lambda exc: True)
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, TransientMarketoError) and should_retry(exc)),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._backoff,
            before_sleep=lambda state: self._before_retry(path, state),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TransientMarketoError as exc:
            if not should_retry(exc):
                raise
            raise MarketoError(
                exc.code, f"{path} still failing after {self._max_retries + 1} attempts: {exc.message}"
            ) from exc

    def _before_retry(self, path: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        code = getattr(exc, "code", "?")
        if code == RATE_LIMIT_CODE:
            # 606: the server's window is full. Hold back every thread for one window, not just us.
            self.limiter.pause(self.limiter.window_seconds)
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("Marketo %s failed with %s (attempt %d); retrying in %.1f s", path, code, state.attempt_number, wait)

    def _authorized(self, send: Callable[[dict[str, str]], T]) -> T:
        """Call `send` with a bearer token; on a token error renew the token once and replay."""
        token = self._tokens.token()
        try:
            return send({"Authorization": f"Bearer {token}"})
        except _TokenRejected:
            self._tokens.discard(token)
        token = self._tokens.token()
        try:
            return send({"Authorization": f"Bearer {token}"})
        except _TokenRejected as exc:
            raise TransientMarketoError(exc.code, "access token refused again right after renewal") from None

    def _send(self, method: str, path: str, headers: dict[str, str], **request: Any) -> httpx.Response:
        with self.limiter.slot():
            self._count_call()
            try:
                response = self._http.request(method, path, headers=headers, **request)
            except httpx.TransportError as exc:
                raise TransientMarketoError("network", f"{path}: {type(exc).__name__}") from None
        _raise_for_http_status(response, path)
        return response

    def _download_rest(self, path: str, destination: str, headers: dict[str, str]) -> int:
        """Fetch what is missing of the file (all of it, or from the current size on)."""
        offset = os.path.getsize(destination)
        if offset:
            headers = {**headers, "Range": f"bytes={offset}-"}
        with self.limiter.slot():
            self._count_call()
            try:
                with self._http.stream("GET", path, headers=headers) as response:
                    _raise_for_http_status(response, path)
                    if "json" in response.headers.get("content-type", ""):
                        _checked_envelope_bytes(response.read())  # an error envelope instead of a file
                    if response.status_code == 206 and _range_start(response) != offset:
                        open(destination, "wb").close()
                        raise TransientMarketoError("range", f"{path}: server resumed at the wrong byte")
                    # 206 continues the file; a plain 200 (Range ignored) starts it over.
                    with open(destination, "ab" if response.status_code == 206 else "wb") as out:
                        for chunk in response.iter_bytes():  # as it arrives: a drop keeps what came
                            out.write(chunk)
            except httpx.TransportError as exc:
                raise TransientMarketoError("network", f"{path}: download interrupted ({type(exc).__name__})") from None
        return os.path.getsize(destination)

    def _count_call(self) -> None:
        with self._calls_lock:
            if self._daily_call_budget is not None and self._calls_used >= self._daily_call_budget:
                raise MarketoQuotaExceeded("budget", f"client call budget of {self._daily_call_budget} calls used up")
            self._calls_used += 1


# --- response checks ----------------------------------------------------------------------------


def _raise_for_http_status(response: httpx.Response, path: str) -> None:
    status = response.status_code
    if status in (200, 206):
        return
    if status >= 500 or status in (404, 429):
        # 404: a bulk file that is not there yet (plain-text body); 429: a proxy's rate limit.
        raise TransientMarketoError(str(status), f"{path}: HTTP {status}")
    raise MarketoError(str(status), f"{path}: HTTP {status}")


def _checked_envelope(response: httpx.Response) -> dict:
    return _checked_envelope_bytes(response.content)


def _checked_envelope_bytes(content: bytes) -> dict:
    """Return the envelope when `success` is true; raise the matching error otherwise."""
    try:
        body = json.loads(content)
    except ValueError:
        raise TransientMarketoError("invalid-json", "response body is not JSON") from None
    if not isinstance(body, dict):
        raise TransientMarketoError("invalid-json", "response body is not a JSON object")
    if body.get("success", False) is True:
        return body
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    if not errors:
        raise MarketoError("unknown", "success is false and no error was given")
    code, message = str(errors[0].get("code", "unknown")), str(errors[0].get("message", ""))
    if any(str(e.get("code")) in TOKEN_CODES for e in errors):
        raise _TokenRejected(code, message)
    raise error_for_code(code, message)


def _range_start(response: httpx.Response) -> int | None:
    """First byte of a 206 answer, from `Content-Range: bytes a-b/total`."""
    value = response.headers.get("content-range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(DOWNLOAD_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()
