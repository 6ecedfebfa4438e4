-- Org pinning (sync_pipelines/pinning.py): the Marketo instance and the Salesforce org this Actions
-- database is synced with. The first run that reaches a service records it; later runs refuse to write
-- when another one answers. Changed only deliberately, by `make repin`.
CREATE TABLE sync_org_pin (
    service    text PRIMARY KEY CHECK (service IN ('marketo', 'salesforce')),
    identity   text NOT NULL,          -- Marketo: the Munchkin id (or host); Salesforce: the organization id
    pinned_by  text NOT NULL,          -- 'first run' or 'repin'
    pinned_at  timestamptz NOT NULL DEFAULT now()
);
