-- Unsubscribes: the Actions opt-out record, its two-way sync with Salesforce's HasOptedOutOfEmail,
-- Marketo's unsubscribe status per Actions person, and the send check the Actions app reads.
-- The rules are in sync_pipelines/unsubscribes/README.md.

-- Marketo's hard-bounce flag (emailInvalid). Filled once the person extract reads `emailInvalid`;
-- until then it stays NULL and the send check cannot report hard bounces.
ALTER TABLE marketo_person_extract ADD COLUMN IF NOT EXISTS email_invalid boolean;

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
