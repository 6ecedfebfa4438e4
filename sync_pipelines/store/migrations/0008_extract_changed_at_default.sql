-- changed_at is the start of the transaction that last changed the person: a default, so the initial
-- load's COPY need not send (and PostgreSQL need not parse) one timestamp per row.
ALTER TABLE marketo_person_extract ALTER COLUMN changed_at SET DEFAULT now();
