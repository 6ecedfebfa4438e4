-- People: the Marketo extract, the sales-owned subset, the Actions person table and its quarantine.

-- The latest state of every person pulled from Marketo (all people, owned or not). The 11 synced fields
-- already carry their Actions names; the rest is what the sync needs to qualify and follow people.
CREATE TABLE marketo_person_extract (
    marketo_id            bigint PRIMARY KEY,
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
    marketo_updated_at    timestamptz,
    row_hash              text NOT NULL,
    changed_at            timestamptz NOT NULL  -- when a field last changed in this table
);

-- The product rule: only people with a Salesforce Lead Owner or Contact Owner are synced.
CREATE VIEW sales_owned_people AS
    SELECT * FROM marketo_person_extract WHERE owner_id IS NOT NULL AND owner_id <> '';

-- The Actions person table: exactly the 11 fields of the standard mapping plus sync metadata.
CREATE TABLE actions_person (
    marketo_id            bigint PRIMARY KEY,
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
    first_synced_at       timestamptz NOT NULL,
    last_synced_at        timestamptz NOT NULL,
    source_updated_at     timestamptz,
    row_hash              text NOT NULL
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
