-- Okno server schema, version 4: email intake and the outbox.
--
-- Tickets the server opens itself (from mail, later chat) take their numbers from a sequence
-- that starts past every number already used.
CREATE SEQUENCE ticket_number AS BIGINT;
SELECT setval('ticket_number', GREATEST((SELECT max(number) FROM tickets), 999));

-- What the desk shows of an email message: addresses, Message-ID, sanitised HTML, notes, and for
-- a reply its delivery state. NULL on messages of other channels. Synced with the message.
ALTER TABLE messages ADD COLUMN email JSONB;
CREATE INDEX messages_by_email_id ON messages ((email->>'message_id')) WHERE email IS NOT NULL;

-- Attachments and inline images, content-addressed: the same file sent twice is stored once.
CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Per mailbox: where intake is (UIDVALIDITY and the last UID committed) and who fetches it.
-- Invariant: at most one instance holds an unexpired lease, and `last_uid` advances in the
-- same transaction that commits the message, so a crash never skips one.
CREATE TABLE mailbox_state (
    name         TEXT PRIMARY KEY,
    uid_validity BIGINT,
    last_uid     BIGINT NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ
);

-- Every message taken in, by Message-ID (the dedupe key across reconnects, UIDVALIDITY changes
-- and mailboxes): which ticket and message it became, or why it opened none.
CREATE TABLE mail_intake (
    message_id   TEXT PRIMARY KEY,
    mailbox      TEXT NOT NULL,
    uid          BIGINT,
    kind         TEXT NOT NULL,
    ticket_id    TEXT REFERENCES tickets(id),
    okno_message_id TEXT REFERENCES messages(id),
    at           BIGINT NOT NULL
);

-- Replies to send. Invariant: a row leaves `queued` for `sending` in a committed transaction
-- before the SMTP conversation starts, and nothing moves `sending` back to `queued`: a crash
-- mid-send becomes `failed` (said so on the message), never a second copy in the customer's inbox.
CREATE TABLE mail_outbox (
    message_id      TEXT PRIMARY KEY REFERENCES messages(id),
    mailbox         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'queued';
