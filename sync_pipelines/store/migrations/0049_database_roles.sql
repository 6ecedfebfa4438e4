-- The role model (deploy/README.md): who may write which table is a privilege, not a setting.
--   sync_pipelines_sync  the sync: every right on every table of this schema (the login role that runs the
--                        sync and these migrations owns them, or is granted this role).
--   sync_pipelines_app   the Actions app: reads everything; writes only its own tables (sellers, settings,
--                        the activity log, its tasks and opt-outs, the task-sync switch). It cannot write the
--                        person tables, the extract, the quarantines or the sync's state, whatever it sets
--                        (SET LOCAL, set_config, PGOPTIONS): the trigger of 0005 is only a reminder.
-- Both are NOLOGIN group roles: grant them to login roles. They are cluster-wide, so creating them is
-- skipped when they exist (another database of the same server, or a DBA, made them first).
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

-- What the Actions app writes itself. A later migration that adds such a table grants it here too.
GRANT INSERT, UPDATE, DELETE ON actions_seller, actions_setting_change, actions_sales_activity, actions_task,
    actions_unsubscribe, task_sync_setting TO sync_pipelines_app;

-- Tables and sequences the migrating role creates later: the same rule (read-only for the app).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES TO sync_pipelines_sync;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO sync_pipelines_sync;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sync_pipelines_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sync_pipelines_app;
