-- A website chat's read receipt for the operators (issue 16): the visitor's widget has shown
-- the operators' replies up to this time. NULL until it has shown one.
ALTER TABLE tickets ADD COLUMN visitor_read_at BIGINT;
