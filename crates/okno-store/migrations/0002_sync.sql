-- Okno local store, schema version 2: sync with the central server.

-- How to take an outbox entry's local effect back if the server refuses it (JSON, see
-- okno-store's sync.rs): the ticket's or operator's fields before the write, the message or
-- call it inserted. Entries written before version 2 have nothing to undo.
ALTER TABLE outbox ADD COLUMN undo TEXT NOT NULL DEFAULT '{}';

-- Mutations the server refused, kept so the window can say what was undone and why.
CREATE TABLE sync_rejections (
    seq         INTEGER PRIMARY KEY,
    mutation_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
