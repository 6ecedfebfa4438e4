"""The Salesforce client of the project, on simple-salesforce.

What it adds to simple-salesforce:
- client-credentials login against `{instance}/services/oauth2/token` (simple-salesforce only
  knows *.salesforce.com for that grant), then simple-salesforce in session_id mode;
- TLS through our own requests Session (a CA bundle for the sandbox, never verify=False);
- one place for failure handling: a 401 INVALID_SESSION_ID re-authenticates and replays once,
  transient errors (UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, 5xx, connection errors) are retried
  with tenacity (exponential backoff + jitter), REQUEST_LIMIT_EXCEEDED raises
  SalesforceQuotaExceeded at once;
- writes that must not run twice (creates, and upserts whose replay would be refused) are never
  replayed after a failure that may have come after the write ran (a dropped connection, a read
  timeout, a 5xx other than 503): they raise SalesforceUnanswered, and the caller reads back;
- sObject Collections in chunks of 200 with allOrNone=false, resubmitting only the records that
  failed with a retryable code; permanent per-record errors come back as RecordResult.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import requests
import tenacity
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)

from sync_pipelines.chunks import chunked
from sync_pipelines.salesforce.errors import (
    SalesforceAuthError,
    SalesforceQuotaExceeded,
    SalesforceReadOnlyError,
    SalesforceRequestError,
    SalesforceUnanswered,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

COLLECTION_SIZE = 200  # sObject Collections accept at most 200 records per call
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"})
REQUEST_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class RecordResult:
    """The outcome for one record of a collection call (in input order)."""

    id: str | None
    success: bool
    error_code: str | None = None
    message: str | None = None


class SalesforceHttpSession(requests.Session):
    """A requests Session with a default timeout (a stalled server cannot hang a run) and a
    `close()` that really closes its sockets."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        return super().request(method, url, **kwargs)

    def close(self) -> None:
        # urllib3 2.8's PoolManager.clear() drops pools without closing them, so their sockets
        # stay open until garbage collection (a server shutting down waits for them): close them.
        for adapter in self.adapters.values():
            pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
            for key in pools.keys() if pools is not None else ():
                pools[key].close()
        super().close()


def _error_code(error: SalesforceError) -> str | None:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode")
    return None


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(error, SalesforceError):
        return error.status >= 500 or _error_code(error) in RETRYABLE_CODES
    return False


def _refused_before_running(error: BaseException) -> bool:
    """Failures that guarantee the call did not run: the connection was never made, or Salesforce
    refused it up front (503 SERVER_UNAVAILABLE, a call-level row lock)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, SalesforceError):
        return error.status == 503 or _error_code(error) in RETRYABLE_CODES
    return False


def _maybe_ran(error: BaseException) -> bool:
    """Failures after which the call may have run: no answer, or a server error other than 503."""
    if isinstance(error, requests.RequestException):
        return not isinstance(error, requests.ConnectTimeout)
    return isinstance(error, SalesforceError) and error.status >= 500 and error.status != 503


def _strip_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """Drop the `attributes` envelope, also from nested relationship records."""
    return {k: _strip_attributes(v) if isinstance(v, dict) else v for k, v in record.items() if k != "attributes"}


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (Salesforce refuses naive replication dates)")
    return value.astimezone(timezone.utc)


def parse_salesforce_datetime(text: str) -> datetime:
    """Parse Salesforce's `2024-05-01T09:30:00.000+0000` into an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc)


class SalesforceClient:
    """A Salesforce REST client for the sync: queries, collections, replication windows."""

    def __init__(
        self,
        instance_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        security_token: str | None = None,
        domain: str = "login",
        ca_bundle: str | None = None,
        api_version: str = "62.0",
        max_retries: int = 5,
        backoff_seconds: float = 0.5,
        read_only: bool = False,
    ):
        """Connect with client credentials (OAuth at `{instance_url}/services/oauth2/token`) or with
        username/password/security_token (simple-salesforce's SOAP login at `{domain}.salesforce.com`).

        `ca_bundle` is a PEM file of CAs to trust instead of the system store (the sandbox's CA).
        `backoff_seconds` is the first retry wait; later waits grow exponentially, with jitter.
        `read_only` (a dry run): every write (update, upsert, delete) raises SalesforceReadOnlyError before
        anything is sent; queries work as usual.
        """
        if not (client_id and client_secret) and not (username and password):
            raise ValueError("give client_id/client_secret or username/password")
        if urlsplit(instance_url.strip()).scheme != "https":
            # The token request carries the client secret: refuse before anything is sent.
            raise ValueError("SALESFORCE_INSTANCE_URL must be an https:// URL (credentials are never sent over plain http)")
        self.instance_url = instance_url.rstrip("/")
        self.api_version = api_version
        self.max_retries = max_retries
        self.api_calls = 0
        self.read_only = read_only
        self._credentials = {"client_id": client_id, "client_secret": client_secret, "username": username,
                             "password": password, "security_token": security_token, "domain": domain}
        self._http = self._make_session(ca_bundle)
        self._wait = tenacity.wait_random_exponential(multiplier=backoff_seconds, max=max(backoff_seconds * 16, 1))
        try:
            self._sf = self._connect()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the HTTP connections (idle keep-alive TLS connections otherwise linger)."""
        self._http.close()

    def __enter__(self) -> "SalesforceClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ connection

    @staticmethod
    def _make_session(ca_bundle: str | None) -> requests.Session:
        session = SalesforceHttpSession()
        if ca_bundle:
            session.verify = ca_bundle
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify otherwise.
            session.trust_env = False
        else:
            session.verify = ssl.get_default_verify_paths().cafile or True
        return session

    def _connect(self) -> Salesforce:
        creds = self._credentials
        if creds["client_id"] and creds["client_secret"]:
            session_id, instance_url = self._client_credentials_token()
            return Salesforce(session_id=session_id, instance_url=instance_url, session=self._http,
                              version=self.api_version, object_pairs_hook=dict)
        try:
            return Salesforce(username=creds["username"], password=creds["password"],
                              security_token=creds["security_token"] or "", domain=creds["domain"],
                              session=self._http, version=self.api_version, object_pairs_hook=dict)
        except SalesforceAuthenticationFailed:
            raise SalesforceAuthError("Salesforce refused the username/password login") from None

    def _client_credentials_token(self) -> tuple[str, str]:
        form = {"grant_type": "client_credentials", "client_id": self._credentials["client_id"],
                "client_secret": self._credentials["client_secret"]}
        try:
            response = self._http.post(f"{self.instance_url}/services/oauth2/token", data=form)
        except requests.RequestException as error:
            raise SalesforceAuthError(f"cannot reach the Salesforce token endpoint ({type(error).__name__})") from None
        if response.status_code != 200:
            reason = response.json().get("error", "") if "json" in response.headers.get("content-type", "") else ""
            raise SalesforceAuthError(f"Salesforce refused the client credentials: HTTP {response.status_code} {reason}")
        body = response.json()
        return body["access_token"], body.get("instance_url") or self.instance_url

    # ------------------------------------------------------------ one call, with renewal and retries

    def _call(self, action: Callable[[Salesforce], T], resource: str, *, replay_unanswered: bool = True) -> T:
        """Run one API call: renew an expired session once, retry transient failures, map errors.

        replay_unanswered=False: retry only failures that guarantee the call did not run; one that
        may have run raises SalesforceUnanswered at once. Any call still unanswered after its
        retries raises SalesforceUnanswered too (never a bare requests exception).
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_is_transient if replay_unanswered else _refused_before_running),
            before_sleep=lambda state: log.warning(
                "Salesforce %s call failed (%s), retry %d", resource,
                _describe(state.outcome.exception()) if state.outcome else "?", state.attempt_number),
            reraise=True,
        )
        try:
            return retrying(self._call_once, action)
        except requests.RequestException as error:
            raise SalesforceUnanswered(resource, type(error).__name__) from None
        except SalesforceError as error:
            if _maybe_ran(error):
                raise SalesforceUnanswered(resource, f"HTTP {error.status}") from None
            if _error_code(error) == "REQUEST_LIMIT_EXCEEDED":
                raise SalesforceQuotaExceeded(
                    "Salesforce API request limit exceeded (REQUEST_LIMIT_EXCEEDED); "
                    "wait for the 24-hour window to free requests") from None
            raise SalesforceRequestError(error.status, _error_code(error), resource) from None

    def _call_once(self, action: Callable[[Salesforce], T]) -> T:
        self.api_calls += 1
        try:
            return action(self._sf)
        except SalesforceExpiredSession:
            log.info("Salesforce session expired; re-authenticating")
            self._sf = self._connect()
            self.api_calls += 1
            return action(self._sf)

    # ------------------------------------------------------------ identity

    def organization_id(self) -> str:
        """The id of the org this client is logged in to, from the OAuth userinfo endpoint (not an API call)."""
        for attempt in range(2):
            response = self._http.get(f"https://{self._sf.sf_instance}/services/oauth2/userinfo",
                                      headers={"Authorization": f"Bearer {self._sf.session_id}"})
            if response.status_code in (401, 403) and attempt == 0:
                self._sf = self._connect()  # an expired session: log in again once
                continue
            break
        if response.status_code != 200 or not response.json().get("organization_id"):
            raise SalesforceRequestError(response.status_code, "USERINFO_UNAVAILABLE", "userinfo")
        return str(response.json()["organization_id"])

    # ------------------------------------------------------------ queries

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """All records of a SOQL query, page after page, without `attributes`."""
        return self._query(soql, include_deleted=False)

    def query_all_including_deleted(self, soql: str) -> Iterator[dict[str, Any]]:
        """Like `query` but through queryAll: deleted (recycle bin) records are included."""
        return self._query(soql, include_deleted=True)

    def _query(self, soql: str, include_deleted: bool) -> Iterator[dict[str, Any]]:
        # Pages are fetched one call at a time (not with query_all_iter) so that each page gets
        # session renewal and retries on its own.
        page = self._call(lambda sf: sf.query(soql, include_deleted=include_deleted), "query")
        while True:
            for record in page["records"]:
                yield _strip_attributes(record)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(lambda sf: sf.query_more(next_url, identifier_is_url=True), "query")

    # ------------------------------------------------------------ replication windows

    def deleted_records(self, sobject: str, start: datetime,
                        end: datetime) -> tuple[list[dict[str, Any]], datetime, datetime]:
        """Records deleted in [start, end): ([{id, deletedDate}], earliestDateAvailable, latestDateCovered).

        An earliestDateAvailable later than your last checkpoint means deletions may have been lost.
        """
        begin, finish = _utc(start, "start"), _utc(end, "end")
        body = self._call(lambda sf: getattr(sf, sobject).deleted(begin, finish), f"{sobject} deleted")
        records = [{"id": r["id"], "deletedDate": parse_salesforce_datetime(r["deletedDate"])}
                   for r in body.get("deletedRecords", [])]
        return (records, parse_salesforce_datetime(body["earliestDateAvailable"]),
                parse_salesforce_datetime(body["latestDateCovered"]))

    # ------------------------------------------------------------ sObject Collections

    def update_many(self, sobject: str, records: Iterable[dict[str, Any]]) -> list[RecordResult]:
        """Update records (each carries `Id`), 200 per call, allOrNone=false."""
        def send(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
            body = {"allOrNone": False, "records": [{"attributes": {"type": sobject}, **r} for r in chunk]}
            return self._call(lambda sf: sf.restful("composite/sobjects", method="PATCH", json=body),
                              "composite update")
        return self._in_collections(list(records), send)

    def upsert_many(self, sobject: str, external_id_field: str, records: Iterable[dict[str, Any]],
                    *, replay_unanswered: bool = True) -> list[RecordResult]:
        """Upsert by an external id field (each record carries it), 200 per call, allOrNone=false.

        replay_unanswered=False when a replay would not be the same write (a replay that turns into an
        update of a field that is settable on create only is refused): an unanswered call then raises
        SalesforceUnanswered, and the caller reads back by the external id."""
        path = f"composite/sobjects/{sobject}/{external_id_field}"

        def send(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
            body = {"allOrNone": False, "records": [{"attributes": {"type": sobject}, **r} for r in chunk]}
            return self._call(lambda sf: sf.restful(path, method="PATCH", json=body), "composite upsert",
                              replay_unanswered=replay_unanswered)
        return self._in_collections(list(records), send)

    def delete_many(self, ids: Iterable[str]) -> list[RecordResult]:
        """Delete records by id (any object), 200 per call, allOrNone=false."""
        def send(chunk: list[str]) -> list[dict[str, Any]]:
            params = {"ids": ",".join(chunk), "allOrNone": "false"}
            return self._call(lambda sf: sf.restful("composite/sobjects", params=params, method="DELETE"),
                              "composite delete")
        return self._in_collections(list(ids), send)

    def _in_collections(self, items: list[Any], send: Callable[[list[Any]], list[dict[str, Any]]]) -> list[RecordResult]:
        if self.read_only and items:
            raise SalesforceReadOnlyError("sObject Collections")
        results: list[RecordResult] = []
        for chunk in chunked(items, COLLECTION_SIZE):
            results.extend(self._send_chunk(chunk, send))
        return results

    def _send_chunk(self, chunk: list[Any], send: Callable[[list[Any]], list[dict[str, Any]]]) -> list[RecordResult]:
        """Send one chunk; resubmit only the records that failed with a retryable code."""
        results: list[RecordResult] = [RecordResult(None, False)] * len(chunk)
        pending = list(range(len(chunk)))

        def attempt() -> list[int]:
            nonlocal pending
            answers = send([chunk[i] for i in pending])
            for index, answer in zip(pending, answers):
                results[index] = _record_result(answer)
            pending = [i for i in pending if results[i].error_code in RETRYABLE_CODES]
            return pending

        # Retry while some records still fail with a retryable code; when attempts run out,
        # their last (failed) result stands.
        tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries),
            wait=self._wait,
            retry=tenacity.retry_if_result(bool),
            retry_error_callback=lambda state: None,
        )(attempt)
        return results


def _record_result(answer: dict[str, Any]) -> RecordResult:
    errors = answer.get("errors") or []
    first = errors[0] if errors else {}
    return RecordResult(id=answer.get("id"), success=bool(answer.get("success")),
                        error_code=first.get("statusCode"), message=first.get("message"))


def _describe(error: BaseException | None) -> str:
    """A log-safe description of an error (type and errorCode, never URL or body)."""
    if isinstance(error, SalesforceError):
        return f"HTTP {error.status} {_error_code(error)}"
    return type(error).__name__
