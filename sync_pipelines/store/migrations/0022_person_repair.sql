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
