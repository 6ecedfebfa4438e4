"""How a Salesforce Task maps onto an Actions task (fixed, both directions)."""

from sync_pipelines.store.tasks import CONTENT_COLUMNS

# Salesforce Task field -> Actions column, for the fields both sides edit. The reminder is special:
# Actions has one column (reminder_at, NULL = none), Salesforce has IsReminderSet + ReminderDateTime.
SYNCED_FIELDS = {
    "Subject": "subject",
    "ActivityDate": "due_date",
    "Status": "status",
    "Priority": "priority",
    "Description": "notes",
    "OwnerId": "owner_id",
    "WhoId": "who_id",
}
assert CONTENT_COLUMNS == [*SYNCED_FIELDS.values(), "reminder_at"], "keep the mapping and the table in step"

# What the sync reads of each Salesforce Task.
QUERY_FIELDS = [
    "Id",
    "IsDeleted",
    *SYNCED_FIELDS,
    "IsReminderSet",
    "ReminderDateTime",
    "Actions_Task_Id__c",
    "LastModifiedDate",
    "SystemModstamp",
]

# The external id the sync writes on tasks it creates from Actions: a create that is retried after a
# crash finds the task it already made instead of making a second one.
EXTERNAL_ID_FIELD = "Actions_Task_Id__c"

# Only to-do tasks are reconciled; emails and calls logged by the activities domain are Tasks too
# (TaskSubtype Email/Call) and stay out.
TASK_SUBTYPE_FILTER = "TaskSubtype = 'Task'"

# The values Salesforce accepts (restricted picklists of the org); other values are quarantined before sending.
STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
PRIORITIES = ("High", "Normal", "Low")
SUBJECT_MAX_LENGTH = 255
NOTES_MAX_LENGTH = 32000
