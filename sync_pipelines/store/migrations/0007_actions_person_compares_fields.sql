-- The Actions person sync now compares the 11 fields themselves (IS DISTINCT FROM) instead of a stored
-- md5 of them. Hashing 500,000 rows cost more than inserting them, and comparing the stored fields on
-- every run repairs an edit made outside the sync without a separate "verify" mode.
ALTER TABLE actions_person DROP COLUMN row_hash;
