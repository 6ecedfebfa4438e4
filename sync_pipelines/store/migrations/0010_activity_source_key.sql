-- An idempotency key for the Actions app: an app that lost the acknowledgement of its COMMIT can log
-- the same activity again with the same source_key and get the first row's id back instead of a second
-- activity (which would reach Marketo and Salesforce twice). NULL for rows written without a key; unique
-- when given. The app's writer is store.activities.log_activity (INSERT ... ON CONFLICT DO NOTHING).
ALTER TABLE actions_sales_activity ADD COLUMN IF NOT EXISTS source_key text;
ALTER TABLE actions_sales_activity
    ADD CONSTRAINT actions_sales_activity_source_key_unique UNIQUE (source_key);
