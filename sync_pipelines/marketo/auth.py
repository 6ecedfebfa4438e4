"""Access tokens from Marketo's identity endpoint (OAuth client credentials), cached and renewed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from .errors import MarketoAuthError, MarketoError, TransientMarketoError

# Renew a token this long before it expires, so no call goes out with a token about to die.
RENEW_BEFORE_EXPIRY_SECONDS = 60.0


class TokenProvider:
    """Hands out a valid access token; thread-safe, one identity call at a time.

    Identity calls do not count against Marketo's API limits, so they bypass the call limiter.
    The secret travels in the query string (the documented contract); `redact.py` keeps httpx's
    request log from printing it, and no exception raised here repeats the URL.
    """

    def __init__(
        self,
        http: httpx.Client,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        """A token with more than a minute to live (or the best one Marketo will give)."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def discard(self, token: str) -> None:
        """Forget `token` after Marketo called it invalid or expired; the next `token()` renews.

        Comparing with the current token keeps several threads that saw the same 602 from
        fetching one new token each.
        """
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        try:
            response = self._http.get(
                "/identity/oauth/token",
                params={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
            )
        except httpx.TransportError as exc:
            raise TransientMarketoError("identity", f"identity endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code == 401:
            raise MarketoAuthError("401", "Marketo refused the client id/secret (check MARKETO_CLIENT_ID/SECRET)")
        if response.status_code >= 500:
            raise TransientMarketoError(str(response.status_code), "identity endpoint unavailable")
        body = _json_or_none(response)
        if response.status_code != 200 or not body or "access_token" not in body:
            raise MarketoError(str(response.status_code), "identity endpoint gave no access token")
        lifetime = float(body.get("expires_in", 0))
        now = self._clock()
        # Marketo hands back the *same* token while it is still valid, so a token that already has
        # under a minute left is kept until it really expires instead of being re-fetched per call.
        margin = RENEW_BEFORE_EXPIRY_SECONDS if lifetime > RENEW_BEFORE_EXPIRY_SECONDS else 0.0
        self._token = body["access_token"]
        self._renew_at = now + lifetime - margin


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
