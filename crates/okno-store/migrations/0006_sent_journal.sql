-- Writes the server acknowledged, kept for a while with the changelog version each was applied
-- at, so that a server restored from a backup older than them gets them again (journal.rs).
CREATE TABLE sent_journal (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    acked_at    INTEGER NOT NULL,
    -- NULL: acknowledged as a duplicate, at a version the server did not say.
    version     INTEGER
);
CREATE INDEX sent_journal_acked_at ON sent_journal (acked_at);
