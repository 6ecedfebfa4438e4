-- The baseline of the Actions database: the schema that migrations 0001-0050 of release 0.1.0 built, squashed
-- into one file that states only the final state. An empty database is built by this file (then by the
-- migrations numbered after it). A database those 20 files built holds exactly this schema: `migrate` adopts
-- this file there without running it, when every file listed below is applied with this sha256 (see
-- store/migrate.py; the upgrade is tested by sync_pipelines_tests/store/test_baseline_adoption.py). Change the
-- schema with a new migration, numbered above 0100, never here.
-- replaces: 0001_people.sql sha256=5efc763ea498a27d57d34ee4dcd4689df130bbb5ad1d972012b7b5b314aa3654
-- replaces: 0002_activities.sql sha256=684d655fec5be5cc508c14927edb7df1cf3770339a149fe9af50e2ef0aa9d083
-- replaces: 0003_unsubscribes.sql sha256=137f9e92489a264e3957879784a4569c24e698707eb64ea44ad9daf7a9d58d16
-- replaces: 0004_tasks.sql sha256=c5313b41bd6cf81b78f55c65c2ada4fba68e26b13781a221df6270ec400bd4a4
-- replaces: 0005_person_write_guard.sql sha256=436c0d83301110e34b5fac99d1c398ec3b372e79ba676fc8490f20e44872d6dc
-- replaces: 0006_extract_compares_fields.sql sha256=d851a4748afc68a290512eeff81bce2612bae104ce3c03c22ddd1f6963ba06ce
-- replaces: 0007_actions_person_compares_fields.sql sha256=9fe546aeacfe6a84b7dde78aeba2ea9110830d851f973d0d075510826962d321
-- replaces: 0008_extract_changed_at_default.sql sha256=22a04fa8ffc79869ea0269f46591018aa80bdde66b3a356fbdaf7798880432b2
-- replaces: 0009_activity_delivery_batch_index.sql sha256=58f88cff6bd204e193fcb03ad5eeda9dc031cec0e0427be5354379999be1a5a2
-- replaces: 0010_activity_source_key.sql sha256=20a97e4b3122fc556cf93ef64e1ed70ed216d8224210616dd2d779a7453bb506
-- replaces: 0011_salesforce_converted_lead.sql sha256=06c0259f51f3b660a7785633c21dbb49296747306db4031b02a538b2a33d3bb2
-- replaces: 0012_salesforce_contact_context.sql sha256=462c556d1fa1e504e9d69af38b45632b78ee83b991d8f91a3bc1d9ae0260d18f
-- replaces: 0020_settings.sql sha256=72f1c65629cfa18a9501f3e7f57c68c4faf7138a6fcb50d4e5d6a5ebe7f80c3f
-- replaces: 0021_extract_run_and_sync_control.sql sha256=b9e577f6fdf569668506f6903f515ddd384217ee5f61830c5eeeb1778735076b
-- replaces: 0022_person_repair.sql sha256=5890b828b8d9dd8853187848f64a96e434bef29847b98682d3f5de48b8f9a6bb
-- replaces: 0023_task_retry_transient.sql sha256=6c0be4d9c742018b850ba5dbb1e89e142130640a62bebff21515a6bee5d4ac99
-- replaces: 0030_person_extract_checkpoints.sql sha256=1c9ce8ee77751077c27aaa9a54b2b258318b8667f443f64cd147c891613f982b
-- replaces: 0040_org_pin.sql sha256=9c92365699502a967da1b28ef54e4682bfe0a40c02439232849e02d65c8328ef
-- replaces: 0049_database_roles.sql sha256=cb43ad4972f30514891123dc4648a1895229106ee6e457afc8760b830ca998c0
-- replaces: 0050_task_sync_per_seller.sql sha256=545e8572dbd4a7d5676c0c9a626a7c773148855a7e090c76931d8c29ee6eb663
--
-- Sections: people; the extract checkpoints; the extract's completion marker and the start switch;
-- activities; unsubscribes; settings; tasks; org pins; database roles and grants (last: they grant on every
-- table above).

-- ============================================================================================================
-- People: the Marketo extract, the sales-owned subset, the Actions person table, its quarantine, write guard
-- and repairs.
-- ============================================================================================================

-- The 11 synced person fields of the standard mapping (sync_pipelines/people/fields.py), under their Actions
-- names: the key, marketo_id, which each table declares itself (a primary key or not), then these ten.
-- Declared once and copied (LIKE) into marketo_person_extract, actions_person and person_extract_staged;
-- the template is dropped after its last use (end of the extract checkpoints). A plain table, not a temporary
-- one: the migrating role needs no TEMPORARY privilege, which hardened servers revoke.
CREATE TABLE synced_person_fields (
    first_name            text,
    last_name             text,
    salesforce_contact_id text,
    salesforce_lead_id    text,
    company               text,
    title                 text,
    email                 text,
    phone                 text,
    linkedin_url          text,
    source                text
);

-- The latest state of every person pulled from Marketo (all people, owned or not): the 11 synced fields,
-- then what the sync needs to qualify and follow people. The extract merge compares the fields themselves
-- (IS DISTINCT FROM): no stored hash of them.
CREATE TABLE marketo_person_extract (
    marketo_id            bigint PRIMARY KEY,
    LIKE synced_person_fields,
    salesforce_type       text,
    owner_id              text,
    unsubscribed          boolean,
    marketo_updated_at    timestamptz,
    -- When a field last changed in this table: the start of the transaction that changed the person (a
    -- default, so the initial load's COPY need not send, nor PostgreSQL parse, one timestamp per row).
    changed_at            timestamptz NOT NULL DEFAULT now(),
    -- Marketo's hard-bounce flag (emailInvalid). NULL until the person extract reads `emailInvalid`; the
    -- send check cannot report hard bounces without it.
    email_invalid         boolean
);

-- The product rule: only people with a Salesforce Lead Owner or Contact Owner are synced.
CREATE VIEW sales_owned_people AS
    SELECT * FROM marketo_person_extract WHERE owner_id IS NOT NULL AND owner_id <> '';

-- The Actions person table: exactly the 11 fields of the standard mapping plus sync metadata. The person sync
-- compares the stored fields themselves (IS DISTINCT FROM), so every run also repairs an edit made outside it.
CREATE TABLE actions_person (
    marketo_id            bigint PRIMARY KEY,
    LIKE synced_person_fields,
    first_synced_at       timestamptz NOT NULL,
    last_synced_at        timestamptz NOT NULL,
    source_updated_at     timestamptz
);

-- Rows that could not be synced, with the reason. Keyed by the source row (its Marketo id when it has a
-- usable one), so a row that fails again updates its entry and a row that later syncs clears it.
CREATE TABLE person_quarantine (
    source_key     text PRIMARY KEY,
    marketo_id     bigint,
    reason         text NOT NULL,
    source_row     jsonb NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL
);
CREATE INDEX person_quarantine_marketo_id ON person_quarantine (marketo_id);

-- Only the sync writes the Actions person table. A guard trigger refuses every INSERT, UPDATE, DELETE
-- and TRUNCATE unless the transaction declared itself as the person sync
-- (SET LOCAL sync_pipelines.writer = 'person_sync', see store/people.py). The Actions app, a report,
-- or a hand-typed UPDATE gets a clear error instead of silently diverging from Marketo.
CREATE FUNCTION refuse_writes_outside_person_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('sync_pipelines.writer', true), '') <> 'person_sync' THEN
        RAISE EXCEPTION 'actions_person is written only by the person sync (Marketo is the source of truth)'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change the person in Marketo; the sync brings the change to Actions.';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER actions_person_rows_written_only_by_sync
    BEFORE INSERT OR UPDATE OR DELETE ON actions_person
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_outside_person_sync();

CREATE TRIGGER actions_person_truncated_only_by_sync
    BEFORE TRUNCATE ON actions_person
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes_outside_person_sync();

-- Values of qualified people that PostgreSQL could not store and that the sync repaired (a NUL byte
-- removed, bytes that were not UTF-8 replaced): the person is in Actions, and the data engineer can see
-- which field of whom was changed. No values are kept here, only the id, the field and the repair.
CREATE TABLE person_repair (
    marketo_id    bigint NOT NULL,
    field         text NOT NULL,     -- the Actions column
    repair        text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (marketo_id, field, repair)
);

-- ============================================================================================================
-- The extract checkpoints: the full person extract, checkpointed per export window so that a killed run
-- resumes where it stopped. A run ("extract") plans its windows once; each window records its Marketo export
-- job as soon as the job exists (a rerun re-attaches to it) and, once loaded, its rows sit in
-- person_extract_staged. Only the final merge, one short transaction, changes marketo_person_extract: a
-- partial extract is never merged.
-- ============================================================================================================

CREATE TABLE person_extract_run (
    extract_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan        jsonb NOT NULL,        -- the fields and how the span was chosen: a rerun resumes only the same plan
    span_from   timestamptz,           -- the createdAt span the windows cover (NULL for a smart-list extract)
    span_until  timestamptz,
    started_at  timestamptz NOT NULL DEFAULT now(),
    merged_at   timestamptz            -- NULL: in progress (or abandoned, when a newer run exists)
);

CREATE TABLE person_extract_window (
    extract_id      bigint NOT NULL REFERENCES person_extract_run ON DELETE CASCADE,
    window_index    integer NOT NULL,
    export_filter   jsonb NOT NULL,
    export_id       text,              -- the Marketo export job, recorded before it is enqueued
    rows_read       integer,           -- parsed plus quarantined, equal to the job's numberOfRecords
    rows_quarantined integer,
    loaded_at       timestamptz,       -- set in the transaction that stages the window's rows
    PRIMARY KEY (extract_id, window_index)
);

-- The clean rows of the loaded windows, until the final merge moves them into marketo_person_extract.
CREATE TABLE person_extract_staged (
    extract_id            bigint NOT NULL,
    window_index          integer NOT NULL,
    marketo_id            bigint NOT NULL,
    LIKE synced_person_fields,
    salesforce_type       text,
    owner_id              text,
    unsubscribed          boolean,
    email_invalid         boolean,
    marketo_updated_at    timestamptz,
    FOREIGN KEY (extract_id, window_index) REFERENCES person_extract_window ON DELETE CASCADE
);
CREATE INDEX person_extract_staged_extract ON person_extract_staged (extract_id);

DROP TABLE synced_person_fields;  -- its last use: the three person tables have their own columns

-- ============================================================================================================
-- The completion marker of the Marketo person extract, and the admin's one switch that starts the sync.
-- ============================================================================================================

-- One row per extract that finished (committed). The paced initial load, the row-count check and the
-- progress metadata ask "has a FULL extract finished?", never "does the extract table have a row?": the
-- change sensor's incremental runs put a few people in the table long before the full extract ends.
CREATE TABLE extract_run (
    extract_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('full', 'incremental')),
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX extract_run_full_finished ON extract_run (finished_at DESC) WHERE kind = 'full';

-- The admin's "initiate data sync": until started_at is set, every sensor and schedule skips and says why.
-- One row; `make start-sync` (python -m sync_pipelines.start_sync) sets it, and so may the Actions app (its
-- role may update these two columns: see the grants at the end).
CREATE TABLE sync_control (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at timestamptz,          -- NULL: the sync has not been started
    stopped_at timestamptz           -- the last time an admin paused it (started_at is then NULL)
);
INSERT INTO sync_control DEFAULT VALUES;

-- ============================================================================================================
-- Activities: the log the Actions app writes, its sellers, and the delivery state per destination.
-- The contract for the Actions app is in sync_pipelines/activities/README.md.
-- ============================================================================================================

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

-- The sellers (Actions users) who log activities: where their Tasks are owned in Salesforce,
-- their personal Email-to-Salesforce address (the BCC logging mode) and their IANA time zone (what "today"
-- and "tomorrow" mean in their Command Center).
CREATE TABLE actions_seller (
    seller_id                   text PRIMARY KEY,
    display_name                text NOT NULL,
    email                       text NOT NULL,
    salesforce_user_id          text,
    email_to_salesforce_address text,
    time_zone                   text NOT NULL DEFAULT 'UTC'
                                    CONSTRAINT actions_seller_time_zone CHECK (is_time_zone(time_zone))
);

-- The activity log. Written by the Actions app only (append-only: an activity never changes once
-- logged); read by the fan-out. activity_id comes from the sequence, so the fan-out sensor can follow
-- the log by its highest id.
CREATE TABLE actions_sales_activity (
    activity_id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    marketo_id             bigint NOT NULL,
    activity_type          text NOT NULL CHECK (activity_type IN (
                               'Sales Email Sent', 'Sales Email Opened', 'Sales Email Clicked',
                               'Sales Email Replied', 'Sales Email Bounced', 'Received Sales Call',
                               'Added to Sales Campaign', 'Removed from Sales Campaign')),
    occurred_at            timestamptz NOT NULL,
    seller_id              text NOT NULL REFERENCES actions_seller (seller_id),
    email_subject          text,   -- email types
    email_body             text,   -- Sales Email Sent: the message text (Task description / BCC mail)
    template_name          text,   -- email types, optional
    link_clicked           text,   -- Sales Email Clicked
    bounce_details         text,   -- Sales Email Bounced
    call_outcome           text,   -- Received Sales Call: the outcome picked in the dialer
    call_status            text,   -- Received Sales Call: completed, no answer, cancelled, failed
    call_duration_seconds  integer CHECK (call_duration_seconds >= 0),
    call_notes             text,   -- Received Sales Call, optional
    campaign_id            text,   -- sales campaign (any type, optional)
    campaign_name          text,
    logged_at              timestamptz NOT NULL DEFAULT now(),
    -- An idempotency key: an app that lost the acknowledgement of its COMMIT can log the same activity
    -- again with the same source_key and get the first row's id back instead of a second activity (which
    -- would reach Marketo and Salesforce twice). NULL for rows written without a key; unique when given.
    -- The app's writer is sync_pipelines.actions_app.log_activity (INSERT ... ON CONFLICT DO NOTHING).
    source_key             text CONSTRAINT actions_sales_activity_source_key_unique UNIQUE
);
CREATE INDEX actions_sales_activity_marketo_id ON actions_sales_activity (marketo_id);

-- Delivery state of one activity to one destination ('marketo' or 'salesforce'):
--   pending -> sending (batch_id recorded BEFORE the remote call) -> delivered | quarantined
--   skipped: not for this destination (path switched off, no Salesforce id, not an email/call).
-- A 'sending' row found by a later run is in doubt: it is verified against the destination before
-- anything is sent again.
CREATE TABLE activity_delivery (
    activity_id   bigint NOT NULL REFERENCES actions_sales_activity (activity_id),
    destination   text NOT NULL CHECK (destination IN ('marketo', 'salesforce')),
    state         text NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'quarantined', 'skipped')),
    batch_id      text,
    channel       text,            -- salesforce: 'api' or 'bcc'
    attempts      integer NOT NULL DEFAULT 0,
    remote_id     text,            -- Marketo marketoGUID, Salesforce Task id, or the BCC Message-ID
    reason        text,            -- why quarantined or skipped
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (destination, activity_id)
);
CREATE INDEX activity_delivery_open ON activity_delivery (destination, state, activity_id)
    WHERE state IN ('pending', 'sending');
-- A batch's rows are read back by batch id (to send them, and to verify a batch left in doubt). Without
-- this index every such read scanned the whole delivery table: 17 ms per batch at 200,000 rows.
CREATE INDEX activity_delivery_batch ON activity_delivery (destination, batch_id) WHERE batch_id IS NOT NULL;

-- Leads that Salesforce reported converted (CANNOT_UPDATE_CONVERTED_LEAD on a Task's WhoId), with the
-- Contact they became (Lead.ConvertedContactId). Activities of a person whose Actions row still
-- carries only the Lead id are logged on that Contact until the person sync brings the Contact id in.
CREATE TABLE salesforce_converted_lead (
    lead_id     text PRIMARY KEY,
    contact_id  text NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT now()
);

-- What a Contact's Task is related to (WhatId), kept in Actions with the person: the Contact's Account and
-- the newest open Opportunity on which the Contact has a Contact Role. Marketo does not carry the
-- Opportunity, so the activity delivery reads both from Salesforce for the Contacts of each run (once per
-- Contact per run) and records them here, joined to actions_person by salesforce_contact_id.
CREATE TABLE salesforce_contact_context (
    contact_id           text PRIMARY KEY,
    account_id           text,
    open_opportunity_id  text,
    looked_up_at         timestamptz NOT NULL DEFAULT now()
);

-- ============================================================================================================
-- Unsubscribes: the Actions opt-out record, its two-way sync with Salesforce's HasOptedOutOfEmail,
-- Marketo's unsubscribe status per Actions person, and the send check the Actions app reads.
-- The rules are in sync_pipelines/unsubscribes/README.md.
-- ============================================================================================================

-- The Actions unsubscribe record: one row per person who has ever opted out (or re-subscribed).
-- Kept when the person leaves the Actions person table: an opt-out outlives the sales owner.
CREATE TABLE actions_unsubscribe (
    marketo_id           bigint PRIMARY KEY,
    opted_out            boolean NOT NULL,
    source               text NOT NULL CHECK (source IN ('actions', 'salesforce')),  -- who set the current state
    changed_at           timestamptz NOT NULL,   -- when the current state was set (on its source's clock)
    last_opt_out_at      timestamptz,            -- the latest opt-out, even if re-subscribed since
    last_opt_out_source  text CHECK (last_opt_out_source IN ('actions', 'salesforce')),
    recorded_at          timestamptz NOT NULL DEFAULT now()
);

-- Every state change and every conflict, append-only (the audit trail). Keyed so that a rerun after a
-- crash records nothing twice.
CREATE TABLE unsubscribe_event (
    event_id     bigserial PRIMARY KEY,
    marketo_id   bigint NOT NULL,
    source       text NOT NULL CHECK (source IN ('actions', 'salesforce')),
    opted_out    boolean NOT NULL,
    occurred_at  timestamptz NOT NULL,
    outcome      text NOT NULL,  -- recorded | applied | conflict_opt_out_kept
    detail       text,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (marketo_id, source, opted_out, occurred_at, outcome)
);
CREATE INDEX unsubscribe_event_marketo_id ON unsubscribe_event (marketo_id);

-- What the sync knows of each person's Salesforce record (the Contact when there is one, else the Lead).
CREATE TABLE salesforce_unsubscribe_state (
    marketo_id          bigint PRIMARY KEY,
    salesforce_id       text NOT NULL,
    salesforce_object   text NOT NULL CHECK (salesforce_object IN ('Lead', 'Contact')),
    sf_opted_out        boolean NOT NULL,     -- HasOptedOutOfEmail as last read or written
    sf_modstamp         timestamptz,          -- SystemModstamp of that reading
    sf_opted_out_at     timestamptz,          -- when Salesforce's current opt-out began (upper bound)
    agreed_opted_out    boolean,              -- the value both sides last held together
    agreed_at           timestamptz,
    updated_at          timestamptz NOT NULL
);

-- Incremental read positions (SystemModstamp per object), advanced only after the changes are applied.
CREATE TABLE unsubscribe_sync_cursor (
    name        text PRIMARY KEY,
    position    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- People whose opt-out could not be synced with Salesforce, with the reason; cleared when they sync.
CREATE TABLE unsubscribe_quarantine (
    marketo_id     bigint PRIMARY KEY,
    salesforce_id  text,
    reason         text NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL
);

-- Marketo's flags per Actions person, refreshed from the people extract by marketo_unsubscribe_status.
CREATE TABLE marketo_unsubscribe_status (
    marketo_id          bigint PRIMARY KEY,
    unsubscribed        boolean NOT NULL,
    email_invalid       boolean NOT NULL,
    marketo_updated_at  timestamptz,
    changed_at          timestamptz NOT NULL,  -- when a flag last changed here
    refreshed_at        timestamptz NOT NULL
);

-- The send check: may a seller email this Actions person? One row per person, with every reason that
-- blocks. Marketo flags are read from both the status table and the extract, so a Marketo unsubscribe
-- blocks as soon as either sync has seen it. Read it through unsubscribes.send_check.check_send.
CREATE VIEW person_send_check AS
WITH flags AS (
    SELECT
        p.marketo_id,
        coalesce(m.unsubscribed, false) OR coalesce(e.unsubscribed, false)       AS marketo_unsubscribed,
        coalesce(u.opted_out AND u.source = 'actions', false)                    AS actions_opt_out,
        coalesce(u.opted_out AND u.source = 'salesforce', false)
            OR coalesce(s.sf_opted_out AND s.salesforce_id IN (p.salesforce_contact_id, p.salesforce_lead_id), false)
                                                                                 AS salesforce_opt_out,
        p.email IS NULL OR btrim(p.email) = ''                                   AS no_email,
        coalesce(m.email_invalid, false) OR coalesce(e.email_invalid, false)     AS hard_bounce
    FROM actions_person p
    LEFT JOIN marketo_unsubscribe_status m USING (marketo_id)
    LEFT JOIN marketo_person_extract e USING (marketo_id)
    LEFT JOIN actions_unsubscribe u USING (marketo_id)
    LEFT JOIN salesforce_unsubscribe_state s USING (marketo_id)
)
SELECT
    marketo_id,
    marketo_unsubscribed, actions_opt_out, salesforce_opt_out, no_email, hard_bounce,
    array_remove(ARRAY[
        CASE WHEN marketo_unsubscribed THEN 'marketo_unsubscribed' END,
        CASE WHEN actions_opt_out THEN 'actions_opt_out' END,
        CASE WHEN salesforce_opt_out THEN 'salesforce_opt_out' END,
        CASE WHEN no_email THEN 'no_email' END,
        CASE WHEN hard_bounce THEN 'hard_bounce' END
    ], NULL) AS reasons,
    NOT (marketo_unsubscribed OR actions_opt_out OR salesforce_opt_out OR no_email OR hard_bounce) AS allowed
FROM flags;

-- ============================================================================================================
-- Settings with the product's shape: an org default (an admin's choice) and a per-seller override
-- ("My Account"), kept as an append-only log so that a run can ask "what was the setting when this
-- activity was logged?". The environment variables are the org defaults below any recorded change
-- (store/settings.py resolves them).
-- ============================================================================================================

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

-- ============================================================================================================
-- Tasks and reminders: the Actions task table, the sync's own state, the staged Salesforce changes, the
-- quarantine, the per-seller task sync (the `task_sync` setting above, org default + the seller's own
-- choice, decides whose tasks sync), the last-synced snapshot of each task, and the Command Center.
-- ============================================================================================================

-- The Actions task table. The Actions app writes it (sync_pipelines/actions_app.py has its writes); the task
-- sync reconciles it with Salesforce Tasks. A task deleted in Actions keeps its row (deleted_at) until the
-- sync has deleted it in Salesforce too, then the row goes.
CREATE TABLE actions_task (
    task_id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    subject             text,
    due_date            date,
    status              text NOT NULL DEFAULT 'Not Started',
    completed           boolean GENERATED ALWAYS AS (status = 'Completed') STORED,
    priority            text NOT NULL DEFAULT 'Normal',
    notes               text,
    reminder_at         timestamptz,          -- NULL: no reminder
    owner_id            text,                 -- the seller: a Salesforce User id
    marketo_id          bigint,               -- the linked Actions person, when known
    who_id              text,                 -- the linked person's Salesforce Lead or Contact id
    salesforce_task_id  text UNIQUE,          -- NULL until the task exists in Salesforce
    origin              text NOT NULL CHECK (origin IN ('actions', 'salesforce')),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL, -- the last change in Actions (app edit or applied pull)
    deleted_at          timestamptz,          -- deleted in Actions, not yet deleted in Salesforce
    -- Sync bookkeeping (written only by the task sync):
    synced_version      timestamptz,          -- the updated_at known to equal Salesforce; newer = to push
    salesforce_modstamp timestamptz,          -- SystemModstamp of the Salesforce version last read or written
    reminder_synced     boolean NOT NULL DEFAULT true  -- false: an old Salesforce reminder was not pulled
);
CREATE INDEX actions_task_due_date ON actions_task (due_date) WHERE deleted_at IS NULL;
-- The sensor's look at Actions-side changes: the newest version among tasks waiting to be pushed.
CREATE INDEX actions_task_updated_at ON actions_task (updated_at);

-- The sync's progress, one row. The cursor moves in the transaction that applies the changes it covers.
CREATE TABLE task_sync_state (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    salesforce_cursor   timestamptz,          -- SystemModstamp high-water mark applied; NULL: never imported
    last_pulled_at      timestamptz,          -- Actions clock of the last applied pull
    deletion_sweep_due  boolean NOT NULL DEFAULT false,  -- set on re-enable: look back at Salesforce deletions
    staged_mode         text,                 -- what the staged changes are: initial / incremental
    staged_high_water   timestamptz,          -- the cursor to commit once the staged changes are applied
    staged_sweep        boolean NOT NULL DEFAULT false   -- the staged changes include the deletion sweep
);
INSERT INTO task_sync_state DEFAULT VALUES;

-- Salesforce task changes read since the cursor (the salesforce_tasks asset), not yet applied.
CREATE TABLE salesforce_task_change (
    salesforce_task_id text PRIMARY KEY,
    actions_task_id    bigint,                -- Actions_Task_Id__c: set on tasks the sync created from Actions
    is_deleted         boolean NOT NULL,
    subject            text,
    due_date           date,
    status             text,
    priority           text,
    notes              text,
    reminder_at        timestamptz,
    owner_id           text,
    who_id             text,
    last_modified_at   timestamptz,
    modstamp           timestamptz
);

-- Tasks that could not be synced, with the reason. Keyed by side and id. A push refused for a transient
-- reason (a locked row, a busy server, the request limit) is retried on every run, with the attempts
-- counted; a permanent refusal waits for the task to change again.
CREATE TABLE task_quarantine (
    source_key     text PRIMARY KEY,          -- 'actions:<task_id>' or 'salesforce:<Id>'
    direction      text NOT NULL CHECK (direction IN ('to_salesforce', 'to_actions')),
    reason         text NOT NULL,
    source_version timestamptz,               -- the version that failed (updated_at or SystemModstamp)
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    transient      boolean NOT NULL DEFAULT false,
    attempts       integer NOT NULL DEFAULT 1
);

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

-- The Command Center: tasks due today and tomorrow, each in its seller's time zone (the seller whose
-- Salesforce user owns it; UTC for a task no seller owns), at a given instant. The view uses the database
-- clock; the asset passes its own (controllable) clock.
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

-- ============================================================================================================
-- Org pinning (sync_pipelines/pinning.py): the Marketo instance and the Salesforce org this Actions
-- database is synced with. The first run that reaches a service records it; later runs refuse to write
-- when another one answers. Changed only deliberately, by `make repin`.
-- ============================================================================================================

CREATE TABLE sync_org_pin (
    service    text PRIMARY KEY CHECK (service IN ('marketo', 'salesforce')),
    identity   text NOT NULL,          -- Marketo: the Munchkin id (or host); Salesforce: the organization id
    pinned_by  text NOT NULL,          -- 'first run' or 'repin'
    pinned_at  timestamptz NOT NULL DEFAULT now()
);

-- ============================================================================================================
-- Database roles and grants (deploy/README.md): who may write which table is a privilege, not a setting.
--   sync_pipelines_sync  the sync: every right on every table of this schema (the login role that runs the
--                        sync and these migrations owns them, or is granted this role).
--   sync_pipelines_app   the Actions app: reads everything; writes only its own tables (sellers, settings,
--                        the activity log, its tasks and opt-outs) and the start switch. It cannot write the
--                        person tables, the extract, the quarantines or the sync's state, whatever it sets
--                        (SET LOCAL, set_config, PGOPTIONS): the person write guard above is only a reminder.
-- Both are NOLOGIN group roles: grant them to login roles. They are cluster-wide, so creating them is
-- skipped when they exist (another database of the same server, or a DBA, made them first).
-- ============================================================================================================

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sync_pipelines_sync') THEN
        BEGIN
            CREATE ROLE sync_pipelines_sync NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- a concurrent migration made it
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sync_pipelines_app') THEN
        BEGIN
            CREATE ROLE sync_pipelines_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END;
$$;

GRANT USAGE ON SCHEMA public TO sync_pipelines_sync, sync_pipelines_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public TO sync_pipelines_sync;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO sync_pipelines_sync;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sync_pipelines_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO sync_pipelines_app;

-- What the Actions app writes itself. A later migration that adds such a table grants it in the same way.
GRANT INSERT, UPDATE, DELETE ON actions_seller, actions_setting_change, actions_sales_activity, actions_task,
    actions_unsubscribe TO sync_pipelines_app;
-- The admin starts (or pauses) the data sync from the Actions app ("initiate data sync"): its role may flip
-- the switch, and nothing else of sync_control.
GRANT UPDATE (started_at, stopped_at) ON sync_control TO sync_pipelines_app;

-- Tables and sequences the migrating role creates later: the same rule (read-only for the app).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES TO sync_pipelines_sync;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO sync_pipelines_sync;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sync_pipelines_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sync_pipelines_app;
