"""A Salesforce that runs the write, then hangs up without a byte of answer: requests raises a bare
ConnectionError (RemoteDisconnected), not a broken body. The client must report the call as unanswered
(in doubt), never leak the requests exception, and never replay a write that must not run twice.

The peer is a real TLS server on loopback that speaks just enough HTTP: the OAuth token, then a hang-up.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from sync_pipelines.salesforce import SalesforceClient
from sync_pipelines.salesforce.errors import SalesforceUnanswered


class _HangingUpSalesforce(http.server.BaseHTTPRequestHandler):
    writes: list[str]  # set per server

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        base = f"https://127.0.0.1:{self.server.server_address[1]}"
        body = json.dumps({"access_token": "t0k3n", "instance_url": base, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PATCH(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.writes.append(self.path)  # the write "ran"; its answer never leaves
        self.close_connection = True  # the connection closes with nothing sent

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hanging_up_salesforce(tmp_path) -> Iterator[tuple[str, str, list[str]]]:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HangingUpSalesforce)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.writes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(ca_file), server.writes
    finally:
        server.shutdown()
        server.server_close()


def _client(url: str, ca_file: str) -> SalesforceClient:
    return SalesforceClient(url, client_id="id", client_secret="secret", ca_bundle=ca_file, max_retries=3,
                            backoff_seconds=0.01)


def test_an_unanswered_write_that_must_not_run_twice_is_in_doubt_after_one_try(hanging_up_salesforce):
    url, ca_file, writes = hanging_up_salesforce
    with _client(url, ca_file) as client, pytest.raises(SalesforceUnanswered):
        client.upsert_many("Task", "Actions_Activity_Id__c", [{"Actions_Activity_Id__c": "1", "Subject": "Hi"}],
                           replay_unanswered=False)
    assert len(writes) == 1  # sent once, then settled by reading back (the caller's job), never replayed


def test_a_replayable_write_unanswered_after_every_retry_raises_unanswered_not_a_requests_error(hanging_up_salesforce):
    url, ca_file, writes = hanging_up_salesforce
    with _client(url, ca_file) as client, pytest.raises(SalesforceUnanswered):
        client.update_many("Lead", [{"Id": "00Q000000000001AAA", "HasOptedOutOfEmail": True}])
    assert len(writes) == 3  # an update sets the same values again: replaying it is harmless
