-- The extract merge now compares the fields themselves (IS DISTINCT FROM) instead of a stored hash of
-- them: rendering 15 fields (a timestamp among them) as text to hash them cost more than the rest of a
-- 1,000,000-person merge. The view is recreated because it selects every column of the table.
DROP VIEW sales_owned_people;
ALTER TABLE marketo_person_extract DROP COLUMN row_hash;
CREATE VIEW sales_owned_people AS
    SELECT * FROM marketo_person_extract WHERE owner_id IS NOT NULL AND owner_id <> '';
