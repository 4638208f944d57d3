-- Okno server schema, version 5: the website's chat.
--
-- A visitor is a browser that opened a channel's widget. Its token lives only in that browser's
-- storage; the server keeps the SHA-256 of it, so a database leak gives no way into anyone's chat.
-- `ticket_id` is the visitor's current chat: a new one starts when the last one was closed.
CREATE TABLE chat_visitors (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    channel     TEXT NOT NULL,
    name        TEXT,
    contact     TEXT,
    customer_id TEXT REFERENCES customers(id),
    ticket_id   TEXT REFERENCES tickets(id),
    page        TEXT,
    created_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE INDEX chat_visitors_by_ticket ON chat_visitors(ticket_id);

-- A visitor's message by the id its browser gave it: a message re-sent after a reconnect is
-- stored once.
CREATE TABLE chat_inbound (
    visitor_id TEXT NOT NULL REFERENCES chat_visitors(id),
    client_id  TEXT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id),
    PRIMARY KEY (visitor_id, client_id)
);

-- Files a visitor uploaded; a visitor's message may attach only these (a hash someone learnt
-- is not a way to someone else's file).
CREATE TABLE chat_uploads (
    visitor_id TEXT NOT NULL REFERENCES chat_visitors(id),
    sha256     TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (visitor_id, sha256)
);
