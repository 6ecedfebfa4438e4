-- Settings with the product's shape: an org default (an admin's choice) and a per-seller override
-- ("My Account"), kept as an append-only log so that a run can ask "what was the setting when this
-- activity was logged?". The environment variables are the org defaults below any recorded change
-- (store/settings.py resolves them).

-- The seller's IANA time zone: what "today" and "tomorrow" mean in their Command Center.
ALTER TABLE actions_seller ADD COLUMN IF NOT EXISTS time_zone text NOT NULL DEFAULT 'UTC';

-- Every change an admin (seller_id NULL) or a seller makes. Never updated or deleted: the effective value
-- at time T is the seller's latest change at or before T, else the org's, else the environment default.
CREATE TABLE actions_setting_change (
    change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seller_id  text REFERENCES actions_seller (seller_id),
    setting    text NOT NULL CHECK (setting IN ('log_emails', 'log_calls', 'email_logging_mode', 'task_sync',
                                                'marketo_unsubscribe_check')),
    value      text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT actions_setting_change_value CHECK (CASE setting
        WHEN 'log_emails' THEN value IN ('true', 'false')
        WHEN 'log_calls' THEN value IN ('true', 'false')
        WHEN 'email_logging_mode' THEN value IN ('api', 'bcc')
        WHEN 'task_sync' THEN value IN ('dont_sync', 'two_way', 'actions_to_salesforce')
        WHEN 'marketo_unsubscribe_check' THEN value IN ('true', 'false')
    END)
);
-- The lookup of actions_setting_at: the latest change of one setting for one seller (or the org) before T.
CREATE INDEX actions_setting_change_lookup ON actions_setting_change (setting, seller_id, changed_at DESC, change_id DESC);

-- The recorded value of a setting for a seller at an instant: the seller's own latest change, else the
-- org's; NULL when neither was ever recorded (the caller then uses the environment default).
-- Usable per row, e.g. actions_setting_at('log_emails', a.seller_id, a.logged_at).
CREATE FUNCTION actions_setting_at(p_setting text, p_seller_id text, p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT c.value FROM actions_setting_change c
          WHERE c.setting = p_setting AND c.seller_id = p_seller_id AND c.changed_at <= p_at
          ORDER BY c.changed_at DESC, c.change_id DESC LIMIT 1),
        (SELECT c.value FROM actions_setting_change c
          WHERE c.setting = p_setting AND c.seller_id IS NULL AND c.changed_at <= p_at
          ORDER BY c.changed_at DESC, c.change_id DESC LIMIT 1))
$$;
