-- A merged ticket points at the ticket that holds its messages now (work/merge.rs).
ALTER TABLE tickets ADD COLUMN merged_into TEXT REFERENCES tickets(id);
