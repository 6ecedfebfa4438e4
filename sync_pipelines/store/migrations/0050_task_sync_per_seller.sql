-- Task sync per seller: the `task_sync` setting (org default + the seller's own choice, 0020) decides whose
-- tasks sync, replacing the single-row task_sync_setting. Numbered after the roles (0049), which grant on
-- the old table. Also: the last-synced snapshot of each task (the field-by-field merge), the Command
-- Center in each seller's time zone, and the app's right to start the sync.

-- What the sync last applied of each seller's task_sync setting (written by the sync only).
CREATE TABLE task_sync_seller (
    seller_id        text PRIMARY KEY REFERENCES actions_seller (seller_id) ON DELETE CASCADE,
    mode             text NOT NULL CHECK (mode IN ('dont_sync', 'two_way', 'actions_to_salesforce')),
    first_enabled_at timestamptz,   -- the first enable: the seller's Actions tasks made before it are never pushed
    enabled_at       timestamptz,   -- start of the current syncing period
    disabled_at      timestamptz,   -- the last time the seller stopped syncing
    pulled_until     timestamptz,   -- the Salesforce cursor when the seller stopped pulling (a re-enable catches up)
    import_since     timestamptz,   -- an import is due: the seller's tasks modified at or after this
    import_staged    boolean NOT NULL DEFAULT false  -- that import is in salesforce_task_change, not yet applied
);

-- An org that had the old org-wide switch on keeps syncing: the admin's choice becomes an org-wide setting
-- change, and every seller who can own Salesforce tasks keeps the old first-enable moment.
INSERT INTO actions_setting_change (seller_id, setting, value, changed_at)
SELECT NULL, 'task_sync', 'two_way', coalesce(enabled_at, now()) FROM task_sync_setting WHERE enabled;
INSERT INTO task_sync_seller (seller_id, mode, first_enabled_at, enabled_at)
SELECT s.seller_id, 'two_way', t.first_enabled_at, t.enabled_at
FROM actions_seller s, task_sync_setting t WHERE t.enabled AND s.salesforce_user_id IS NOT NULL;
UPDATE actions_seller s SET time_zone = t.time_zone FROM task_sync_setting t
WHERE s.time_zone = 'UTC' AND t.time_zone <> 'UTC';

-- The Command Center: each task's today and tomorrow in its seller's time zone (the seller whose Salesforce
-- user owns it; UTC for a task no seller owns).
DROP VIEW command_center_tasks;
DROP FUNCTION command_center_tasks_at(timestamptz);
DROP TABLE task_sync_setting;

CREATE FUNCTION task_owner_today(p_owner_id text, p_at timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (p_at AT TIME ZONE coalesce(
        (SELECT s.time_zone FROM actions_seller s WHERE s.salesforce_user_id = p_owner_id
          ORDER BY s.seller_id LIMIT 1), 'UTC'))::date
$$;

CREATE FUNCTION command_center_tasks_at(at timestamptz) RETURNS SETOF actions_task
LANGUAGE sql STABLE AS $$
    SELECT t.* FROM actions_task t
    WHERE t.deleted_at IS NULL
      AND t.due_date BETWEEN task_owner_today(t.owner_id, at) AND task_owner_today(t.owner_id, at) + 1
$$;

CREATE VIEW command_center_tasks AS SELECT * FROM command_center_tasks_at(now());

-- A seller's time zone must be one PostgreSQL knows, or every Command Center query would fail.
CREATE FUNCTION is_time_zone(p_name text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM now() AT TIME ZONE p_name;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END;
$$;
ALTER TABLE actions_seller ADD CONSTRAINT actions_seller_time_zone CHECK (is_time_zone(time_zone));

-- The last version of each linked task that both sides agreed on (written by the sync only). A field that
-- differs from it on one side only was changed on that side: see tasks/transforms.py.
CREATE TABLE actions_task_synced (
    task_id     bigint PRIMARY KEY REFERENCES actions_task (task_id) ON DELETE CASCADE,
    subject     text,
    due_date    date,
    status      text,
    priority    text,
    notes       text,
    owner_id    text,
    who_id      text,
    reminder_at timestamptz
);
INSERT INTO actions_task_synced
SELECT task_id, subject, due_date, status, priority, notes, owner_id, who_id, reminder_at FROM actions_task
WHERE salesforce_task_id IS NOT NULL AND deleted_at IS NULL AND synced_version = updated_at;

-- The sensor's look at Actions-side changes: the newest version among tasks waiting to be pushed.
CREATE INDEX actions_task_updated_at ON actions_task (updated_at);

-- The admin starts the data sync from the Actions app ("initiate data sync"): its role may flip the switch.
GRANT UPDATE (started_at, stopped_at) ON sync_control TO sync_pipelines_app;
