"""Lead describe and Get Leads by Filter Type of the Marketo sandbox."""

from sync_pipelines_tests.fixtures.marketo import marketo_http_client

SYNCED = ["firstName", "lastName", "sfdcContactId", "sfdcLeadId", "id", "company", "title",
          "email", "phone", "linkedInProfileURL", "leadSource"]


def test_describe_and_describe2_list_the_synced_fields(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        describe = client.get("/rest/v1/leads/describe.json").json()
        describe2 = client.get("/rest/v1/leads/describe2.json").json()
    rest_names = {field["rest"]["name"] for field in describe["result"]}
    assert set(SYNCED) | {"sfdcLeadOwnerId", "sfdcType", "unsubscribed", "updatedAt"} <= rest_names
    assert all({"id", "displayName", "dataType"} <= set(f) for f in describe["result"])
    lead = describe2["result"][0]
    assert lead["name"] == "API Lead"
    assert {f["name"] for f in lead["fields"]} == rest_names
    assert ["sfdcLeadOwnerId"] in lead["searchableFields"]
    assert all({"updateable", "crmManaged"} <= set(f) for f in lead["fields"])


def test_leads_by_id_page_through_with_tokens(marketo_sandbox):
    ids = marketo_sandbox.sandbox.leads()["id"].head(7).tolist()
    pages = []
    with marketo_http_client(marketo_sandbox) as client:
        params = {"filterType": "id", "filterValues": ",".join(map(str, ids)), "batchSize": 3,
                  "fields": "id,email,sfdcLeadOwnerId,unsubscribed,updatedAt"}
        while True:
            body = client.get("/rest/v1/leads.json", params=params).json()
            assert body["success"], body
            pages.append(body["result"])
            if not body.get("nextPageToken"):
                assert body["moreResult"] is False
                break
            params["nextPageToken"] = body["nextPageToken"]
    assert [len(page) for page in pages] == [3, 3, 1]
    returned = [lead for page in pages for lead in page]
    assert [lead["id"] for lead in returned] == ids
    assert set(returned[0]) == {"id", "email", "sfdcLeadOwnerId", "unsubscribed", "updatedAt"}
    assert isinstance(returned[0]["unsubscribed"], bool)
    assert returned[0]["updatedAt"].endswith("Z")


def test_filter_limits_and_refusals(marketo_sandbox):
    with marketo_http_client(marketo_sandbox) as client:
        too_many = client.get("/rest/v1/leads.json", params={
            "filterType": "id", "filterValues": ",".join(str(i) for i in range(1, 302))}).json()
        by_name = client.get("/rest/v1/leads.json", params={
            "filterType": "firstName", "filterValues": "Anna"}).json()
        big_batch = client.get("/rest/v1/leads.json", params={
            "filterType": "id", "filterValues": "1001", "batchSize": 301}).json()
        bad_field = client.get("/rest/v1/leads.json", params={
            "filterType": "id", "filterValues": "1001", "fields": "id,noSuchField"}).json()
        no_match = client.get("/rest/v1/leads.json", params={
            "filterType": "email", "filterValues": "nobody@example.invalid"}).json()
    assert too_many["errors"][0]["code"] == "1003"
    assert by_name["errors"][0]["code"] == "1011"
    assert big_batch["errors"][0]["code"] == "1003"
    assert bad_field["errors"][0]["code"] == "1006"
    assert no_match["success"] is True and no_match["result"] == []


def test_more_than_1000_matches_is_refused(make_marketo_sandbox):
    server = make_marketo_sandbox(size=50_000)
    owner = server.sandbox.leads()["sfdcLeadOwnerId"].value_counts().index[0]
    with marketo_http_client(server) as client:
        body = client.get("/rest/v1/leads.json", params={
            "filterType": "sfdcLeadOwnerId", "filterValues": owner}).json()
    assert body["errors"][0]["code"] == "1003"


def test_owner_filter_and_duplicate_emails(marketo_sandbox):
    leads = marketo_sandbox.sandbox.leads()
    owner = leads["sfdcLeadOwnerId"].dropna().iloc[0]
    email = leads.loc[leads["email"].duplicated(), "email"].iloc[0]
    with marketo_http_client(marketo_sandbox) as client:
        owned = client.get("/rest/v1/leads.json", params={
            "filterType": "sfdcLeadOwnerId", "filterValues": owner}).json()
        same_email = client.get("/rest/v1/leads.json", params={
            "filterType": "email", "filterValues": email}).json()
    assert {lead["id"] for lead in owned["result"]} == \
        set(leads.loc[leads["sfdcLeadOwnerId"] == owner, "id"])
    assert len(same_email["result"]) >= 2


def test_long_get_as_post_with_method_override(marketo_sandbox):
    ids = marketo_sandbox.sandbox.leads()["id"].head(250).tolist()
    with marketo_http_client(marketo_sandbox) as client:
        body = client.post("/rest/v1/leads.json", params={"_method": "GET"}, data={
            "filterType": "id", "filterValues": ",".join(map(str, ids)),
            "fields": "id,firstName"}).json()
        plain_post = client.post("/rest/v1/leads.json", json={"input": []}).json()
    assert body["success"] and [lead["id"] for lead in body["result"]] == ids
    assert plain_post["success"] is False


def test_single_lead(marketo_sandbox):
    lead_id = int(marketo_sandbox.sandbox.leads()["id"].iloc[3])
    with marketo_http_client(marketo_sandbox) as client:
        found = client.get(f"/rest/v1/lead/{lead_id}.json", params={"fields": "id,title"}).json()
        missing = client.get("/rest/v1/lead/99999999.json").json()
    assert found["result"][0]["id"] == lead_id and "title" in found["result"][0]
    assert missing["success"] is True and missing["result"] == []
