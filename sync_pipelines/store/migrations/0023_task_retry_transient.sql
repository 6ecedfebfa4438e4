-- A task push refused for a transient reason (a locked row, a busy server, the request limit) is retried
-- on every run, with the attempts counted; only a permanent refusal waits for the task to change again.
ALTER TABLE task_quarantine
    ADD COLUMN transient boolean NOT NULL DEFAULT false,
    ADD COLUMN attempts  integer NOT NULL DEFAULT 1;
