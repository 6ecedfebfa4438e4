"""Activity paging (lead changes, deleted leads, merges) of the Marketo sandbox."""

import httpx

from sync_pipelines_tests.fixtures.marketo import marketo_http_client


def _token_since(client, when="2020-01-01T00:00:00Z") -> str:
    body = client.get("/rest/v1/activities/pagingtoken.json", params={"sinceDatetime": when}).json()
    assert body["success"], body
    return body["nextPageToken"]


def _page_all(client, path, params) -> tuple[list[dict], list[dict]]:
    """Follow nextPageToken while moreResult; return (items, raw page bodies)."""
    items, pages = [], []
    while True:
        body = client.get(path, params=params).json()
        assert body["success"], body
        assert "nextPageToken" in body and "moreResult" in body
        pages.append(body)
        items.extend(body["result"])
        params = {**params, "nextPageToken": body["nextPageToken"]}
        if not body["moreResult"]:
            return items, pages


def test_seed_data_has_no_activities(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        token = _token_since(client)
        body = client.get("/rest/v1/activities/leadchanges.json",
                          params={"nextPageToken": token, "fields": "email"}).json()
    assert body["result"] == [] and body["moreResult"] is False


def test_lead_changes_page_from_a_token(marketo_sandbox):
    server = marketo_sandbox
    ids = server.sandbox.leads()["id"].head(3).tolist()
    with marketo_http_client(server) as client:
        token = _token_since(client)
        for lead_id in ids:
            response = httpx.patch(f"{server.url}/sandbox/leads/{lead_id}",
                                   json={"title": f"Title {lead_id}", "city": "Nowhere"})
            assert response.status_code == 200
        new_id = httpx.post(f"{server.url}/sandbox/leads",
                            json={"firstName": "Nova", "email": "nova@example.com"}).json()["id"]
        items, pages = _page_all(client, "/rest/v1/activities/leadchanges.json",
                                 {"nextPageToken": token, "fields": "title,email",
                                  "batchSize": 2})
        only_city, _ = _page_all(client, "/rest/v1/activities/leadchanges.json",
                                 {"nextPageToken": token, "fields": "city", "leadIds": ids[0]})
        too_many_ids = client.get("/rest/v1/activities/leadchanges.json", params={
            "nextPageToken": token, "fields": "title",
            "leadIds": ",".join(str(i) for i in range(31))}).json()
        no_fields = client.get("/rest/v1/activities/leadchanges.json",
                               params={"nextPageToken": token}).json()
    changes = [item for item in items if item["activityTypeId"] == 13]
    assert [c["leadId"] for c in changes] == ids
    assert changes[0]["fields"][0]["name"] == "title"
    assert changes[0]["fields"][0]["newValue"] == f"Title {ids[0]}"
    assert changes[0]["fields"][0]["oldValue"] is not None
    assert [i["leadId"] for i in items if i["activityTypeId"] == 12] == [new_id]
    assert len(pages) >= 2 and all(len(p["result"]) <= 2 for p in pages)
    assert [c["fields"][0]["name"] for c in only_city] == ["city"]
    assert only_city[0]["leadId"] == ids[0]
    assert too_many_ids["errors"][0]["code"] == "1003"
    assert no_fields["success"] is False
    # The change bumped updatedAt.
    leads = server.sandbox.leads().set_index("id")
    assert leads.loc[ids[0], "updatedAt"].year >= 2026


def test_token_after_changes_sees_only_later_ones(marketo_sandbox):
    server = marketo_sandbox
    first, second = server.sandbox.leads()["id"].head(2).tolist()
    server.sandbox.update_lead(first, phone="+1-555-0100")
    with marketo_http_client(server) as client:
        items, _ = _page_all(client, "/rest/v1/activities/leadchanges.json",
                             {"nextPageToken": _token_since(client), "fields": "phone"})
        end_token = _page_all(client, "/rest/v1/activities/leadchanges.json",
                              {"nextPageToken": _token_since(client), "fields": "phone"}
                              )[1][-1]["nextPageToken"]
        server.sandbox.update_lead(second, phone="+1-555-0101")
        later, _ = _page_all(client, "/rest/v1/activities/leadchanges.json",
                             {"nextPageToken": end_token, "fields": "phone"})
    assert [i["leadId"] for i in items] == [first]
    assert [i["leadId"] for i in later] == [second]


def test_deleted_leads_and_merges(marketo_sandbox):
    server = marketo_sandbox
    a, b, c, d = server.sandbox.leads()["id"].head(4).tolist()
    with marketo_http_client(server) as client:
        token = _token_since(client)
        assert httpx.delete(f"{server.url}/sandbox/leads/{a}").status_code == 200
        merged = httpx.post(f"{server.url}/sandbox/leads/merge",
                            json={"winnerId": b, "loserIds": [c, d]})
        assert merged.status_code == 200
        deleted, _ = _page_all(client, "/rest/v1/activities/deletedleads.json",
                               {"nextPageToken": token})
        merges, _ = _page_all(client, "/rest/v1/activities.json",
                              {"nextPageToken": token, "activityTypeIds": "32"})
        types = client.get("/rest/v1/activities/types.json").json()["result"]
        eleven_types = client.get("/rest/v1/activities.json", params={
            "nextPageToken": token, "activityTypeIds": ",".join(["12"] * 11)}).json()
    assert [(x["leadId"], x["activityTypeId"]) for x in deleted] == [(a, 37)]
    assert len(merges) == 1 and merges[0]["leadId"] == b
    attributes = {attr["name"]: attr["value"] for attr in merges[0]["attributes"]}
    assert attributes["Merge Ids"] == f"{c},{d}"
    remaining = set(server.sandbox.leads()["id"])
    assert a not in remaining and c not in remaining and b in remaining
    assert {12, 13, 32, 37} <= {t["id"] for t in types}
    assert eleven_types["errors"][0]["code"] == "1003"


def test_admin_rejects_bad_updates(marketo_sandbox):
    lead_id = int(marketo_sandbox.sandbox.leads()["id"].iloc[0])
    url = f"{marketo_sandbox.url}/sandbox/leads"
    assert httpx.patch(f"{url}/{lead_id}", json={"noSuchField": 1}).status_code == 400
    assert httpx.patch(f"{url}/{lead_id}", json={"unsubscribed": "yes"}).status_code == 400
    assert httpx.patch(f"{url}/1", json={"title": "x"}).status_code == 404
