-- The completion marker of the Marketo person extract, and the admin's one switch that starts the sync.

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
-- One row; `make start-sync` (python -m sync_pipelines.start_sync) sets it.
CREATE TABLE sync_control (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    started_at timestamptz,          -- NULL: the sync has not been started
    stopped_at timestamptz           -- the last time an admin paused it (started_at is then NULL)
);
INSERT INTO sync_control DEFAULT VALUES;
