-- The full person extract, checkpointed per export window so that a killed run resumes where it stopped.
-- A run ("extract") plans its windows once; each window records its Marketo export job as soon as the job
-- exists (a rerun re-attaches to it) and, once loaded, its rows sit in person_extract_staged. Only the final
-- merge, one short transaction, changes marketo_person_extract: a partial extract is never merged.
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
    first_name            text,
    last_name             text,
    salesforce_contact_id text,
    salesforce_lead_id    text,
    company               text,
    title                 text,
    email                 text,
    phone                 text,
    linkedin_url          text,
    source                text,
    salesforce_type       text,
    owner_id              text,
    unsubscribed          boolean,
    email_invalid         boolean,
    marketo_updated_at    timestamptz,
    FOREIGN KEY (extract_id, window_index) REFERENCES person_extract_window ON DELETE CASCADE
);
CREATE INDEX person_extract_staged_extract ON person_extract_staged (extract_id);
