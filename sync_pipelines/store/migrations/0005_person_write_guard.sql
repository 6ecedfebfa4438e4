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
