-- Leads that Salesforce reported converted (CANNOT_UPDATE_CONVERTED_LEAD on a Task's WhoId), with the
-- Contact they became (Lead.ConvertedContactId). Activities of a person whose Actions row still
-- carries only the Lead id are logged on that Contact until the person sync brings the Contact id in.
CREATE TABLE IF NOT EXISTS salesforce_converted_lead (
    lead_id     text PRIMARY KEY,
    contact_id  text NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT now()
);
