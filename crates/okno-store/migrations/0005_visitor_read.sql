-- Okno local store, schema version 5: a website chat's read receipt, as the server syncs it
-- (the visitor's widget has shown the operators' replies up to this time).
ALTER TABLE tickets ADD COLUMN visitor_read_at INTEGER;
