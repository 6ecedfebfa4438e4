"""Which people a page of Marketo change activities touches."""

from sync_pipelines.people.changes import ids_from_deleted_leads, ids_from_lead_changes, ids_from_merges


def change(lead_id, *names, type_id=13):
    return {"leadId": lead_id, "activityTypeId": type_id, "fields": [{"id": 1, "name": n, "newValue": "x"} for n in names]}


def test_lead_changes_count_only_fields_the_sync_reads_and_new_leads():
    records = [
        change(1, "title"),
        change(2, "leadScore"),  # not read by the sync
        change(3, "sfdcLeadOwnerId"),
        change(4, type_id=12),  # New Lead
        change(5, "city", "unsubscribed"),
    ]
    assert ids_from_lead_changes(records) == {1, 3, 4, 5}


def test_deleted_and_merged_leads():
    assert ids_from_deleted_leads([{"leadId": 8, "activityTypeId": 37}]) == {8}
    merge = {"leadId": 10, "activityTypeId": 32, "attributes": [{"name": "Merge Ids", "value": "11,12"}]}
    other = {"leadId": 20, "activityTypeId": 1, "attributes": []}
    assert ids_from_merges([merge, other]) == {10, 11, 12}
