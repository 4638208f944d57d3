-- Okno local store, schema version 4: the server's notices for the signed-in account (a
-- colleague's @mention, news on a followed ticket, a contractor's answer), kept so the window
-- can list them after the desktop notification is gone.
CREATE TABLE notices (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    ticket_id   TEXT NOT NULL,
    number      INTEGER NOT NULL,
    by_name     TEXT NOT NULL,
    excerpt     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    seen        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notices_by_time ON notices(at DESC);
