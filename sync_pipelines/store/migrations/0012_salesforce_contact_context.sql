-- What a Contact's Task is related to (WhatId), kept in Actions with the person: the Contact's Account and
-- the newest open Opportunity on which the Contact has a Contact Role. Marketo does not carry the
-- Opportunity, so the activity delivery reads both from Salesforce for the Contacts of each run (once per
-- Contact per run) and records them here, joined to actions_person by salesforce_contact_id.
CREATE TABLE IF NOT EXISTS salesforce_contact_context (
    contact_id           text PRIMARY KEY,
    account_id           text,
    open_opportunity_id  text,
    looked_up_at         timestamptz NOT NULL DEFAULT now()
);
