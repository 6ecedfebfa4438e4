"""Identity endpoint and Bearer-token checks of the Marketo sandbox."""

import time

import httpx

from sync_pipelines_tests.fixtures.marketo import fetch_marketo_token


def _token_params(server, **overrides):
    return {"grant_type": "client_credentials", "client_id": server.client_id,
            "client_secret": server.client_secret, **overrides}


def _describe(server, token=None, headers=None):
    headers = headers if headers is not None else {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{server.url}/rest/v1/leads/describe.json", headers=headers).json()


def test_token_by_get_and_post_is_reused_until_expiry(marketo_sandbox):
    first = httpx.get(f"{marketo_sandbox.url}/identity/oauth/token",
                      params=_token_params(marketo_sandbox))
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and 3590 <= body["expires_in"] <= 3600
    assert body["scope"]
    again = httpx.post(f"{marketo_sandbox.url}/identity/oauth/token",
                       params=_token_params(marketo_sandbox)).json()
    assert again["access_token"] == body["access_token"]
    assert again["expires_in"] <= body["expires_in"]


def test_bad_credentials_answer_401(marketo_sandbox):
    response = httpx.get(f"{marketo_sandbox.url}/identity/oauth/token",
                         params=_token_params(marketo_sandbox, client_secret="wrong"))
    assert response.status_code == 401
    assert "wrong" not in response.text


def test_missing_invalid_and_expired_tokens(marketo_sandbox):
    assert _describe(marketo_sandbox, headers={})["errors"][0]["code"] == "600"
    assert _describe(marketo_sandbox, "not-a-token")["errors"][0]["code"] == "601"
    token = fetch_marketo_token(marketo_sandbox)
    assert _describe(marketo_sandbox, token)["success"] is True
    marketo_sandbox.sandbox.expire_tokens()
    expired = _describe(marketo_sandbox, token)
    assert expired["success"] is False and expired["errors"][0]["code"] == "602"
    assert isinstance(expired["requestId"], str)
    fresh = fetch_marketo_token(marketo_sandbox)
    assert fresh != token and _describe(marketo_sandbox, fresh)["success"] is True
    # Only the two successful describes count: identity and 600/601/602 answers do not.
    assert marketo_sandbox.sandbox.api_calls == 2


def test_token_expires_after_its_ttl(make_marketo_sandbox):
    server = make_marketo_sandbox(token_ttl_seconds=1)
    token = fetch_marketo_token(server)
    deadline = time.monotonic() + 10
    codes = []
    while time.monotonic() < deadline:
        body = _describe(server, token)
        if not body["success"]:
            codes.append(body["errors"][0]["code"])
            break
        time.sleep(0.2)
    assert codes == ["602"]


def test_admin_expire_endpoint(marketo_sandbox):
    token = fetch_marketo_token(marketo_sandbox)
    assert httpx.post(f"{marketo_sandbox.url}/sandbox/tokens/expire").status_code == 200
    assert _describe(marketo_sandbox, token)["errors"][0]["code"] == "602"
