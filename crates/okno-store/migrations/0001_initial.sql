-- Okno local store, schema version 1.
-- Text ids are client-generated UUIDv7s (see okno_core::new_id); `rid` integer keys exist only
-- so FTS5 external-content tables have a stable rowid that VACUUM never renumbers.

CREATE TABLE departments (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE queues (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    channel              TEXT NOT NULL,
    department_id        TEXT NOT NULL REFERENCES departments(id),
    premium_frt_minutes  INTEGER NOT NULL DEFAULT 240,
    standard_frt_minutes INTEGER NOT NULL DEFAULT 480
);

CREATE TABLE operators (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    state       TEXT NOT NULL,
    state_since INTEGER NOT NULL,
    -- The account signed in on this desktop.
    is_me       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE customers (
    rid        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    company    TEXT,
    tier       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    -- Identities flattened for full-text search; PII, masked in a contractor's projection.
    contacts_text TEXT NOT NULL DEFAULT ''
);

CREATE TABLE customer_identities (
    customer_id TEXT NOT NULL REFERENCES customers(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    -- Digits only for phones, lower case for emails: what caller-ID matching compares.
    normalized  TEXT NOT NULL,
    PRIMARY KEY (kind, normalized, customer_id)
);
CREATE INDEX customer_identities_by_customer ON customer_identities(customer_id);

CREATE TABLE tickets (
    rid               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    number            INTEGER NOT NULL UNIQUE,
    subject           TEXT NOT NULL,
    customer_id       TEXT NOT NULL REFERENCES customers(id),
    channel           TEXT NOT NULL,
    status            TEXT NOT NULL,
    priority          TEXT NOT NULL,
    queue_id          TEXT NOT NULL REFERENCES queues(id),
    assignee_id       TEXT REFERENCES operators(id),
    tags              TEXT NOT NULL DEFAULT '[]',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- The deadline the ticket is waiting on now (first response); NULL once met or paused.
    sla_due_at        INTEGER,
    -- The first-response target as set at creation, kept for the reports after it is met.
    first_response_due_at INTEGER,
    first_response_at INTEGER,
    unread            INTEGER NOT NULL DEFAULT 0,
    preview           TEXT NOT NULL DEFAULT '',
    message_count     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_by_status_due ON tickets(status, sla_due_at);
CREATE INDEX tickets_by_queue_due ON tickets(queue_id, status, sla_due_at);
CREATE INDEX tickets_by_assignee_due ON tickets(assignee_id, status, sla_due_at);
CREATE INDEX tickets_by_customer ON tickets(customer_id, updated_at);
CREATE INDEX tickets_by_updated ON tickets(updated_at);
-- Matches the inbox's "by SLA due" ORDER BY exactly, so deep pages of the whole inbox walk an
-- index instead of sorting 100k rows per request.
CREATE INDEX tickets_by_sla ON tickets(coalesce(sla_due_at, 9223372036854775807), rid);
CREATE INDEX tickets_by_assignee_updated ON tickets(assignee_id, updated_at);

CREATE TABLE ticket_tags (
    ticket_id TEXT NOT NULL REFERENCES tickets(id),
    tag       TEXT NOT NULL,
    PRIMARY KEY (tag, ticket_id)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_by_ticket ON ticket_tags(ticket_id);

CREATE TABLE messages (
    rid          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    ticket_id    TEXT NOT NULL REFERENCES tickets(id),
    channel      TEXT NOT NULL,
    direction    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    operator_id  TEXT REFERENCES operators(id),
    subject      TEXT,
    body         TEXT NOT NULL,
    attachments  TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL
);
CREATE INDEX messages_by_ticket ON messages(ticket_id, created_at);

CREATE TABLE calls (
    rid           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    customer_id   TEXT REFERENCES customers(id),
    ticket_id     TEXT REFERENCES tickets(id),
    queue_id      TEXT REFERENCES queues(id),
    operator_id   TEXT REFERENCES operators(id),
    direction     TEXT NOT NULL,
    from_number   TEXT NOT NULL,
    to_number     TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    answered_at   INTEGER,
    ended_at      INTEGER,
    outcome       TEXT NOT NULL,
    disposition   TEXT,
    notes         TEXT NOT NULL DEFAULT '',
    recording_ref TEXT
);
CREATE INDEX calls_by_customer ON calls(customer_id, started_at);
CREATE INDEX calls_by_ticket ON calls(ticket_id);
CREATE INDEX calls_by_started ON calls(started_at);

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    number      TEXT NOT NULL,
    status      TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    items       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX orders_by_customer ON orders(customer_id, created_at);

-- Every fact the reports need (service level, FRT, AHT, agent states), append-only.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    ticket_id   TEXT,
    call_id     TEXT,
    operator_id TEXT,
    queue_id    TEXT,
    customer_id TEXT,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_at ON events(at);

-- Mutations waiting to reach the server, in the order the operator made them.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Full-text search. unicode61 folds case and diacritics (ё → е) for Russian and English;
-- queries use prefix terms, which covers Russian inflected endings well enough for lookup.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, body, content='messages', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, subject, body) VALUES (new.rid, new.subject, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, subject, body) VALUES ('delete', old.rid, old.subject, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, subject, body) VALUES ('delete', old.rid, old.subject, old.body);
    INSERT INTO messages_fts(rowid, subject, body) VALUES (new.rid, new.subject, new.body);
END;

CREATE VIRTUAL TABLE tickets_fts USING fts5(
    subject, tags, content='tickets', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_fts(rowid, subject, tags) VALUES (new.rid, new.subject, new.tags);
END;
CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts(tickets_fts, rowid, subject, tags) VALUES ('delete', old.rid, old.subject, old.tags);
END;
CREATE TRIGGER tickets_fts_update AFTER UPDATE OF subject, tags ON tickets BEGIN
    INSERT INTO tickets_fts(tickets_fts, rowid, subject, tags) VALUES ('delete', old.rid, old.subject, old.tags);
    INSERT INTO tickets_fts(rowid, subject, tags) VALUES (new.rid, new.subject, new.tags);
END;

CREATE VIRTUAL TABLE customers_fts USING fts5(
    name, company, contacts_text, content='customers', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts(rowid, name, company, contacts_text) VALUES (new.rid, new.name, new.company, new.contacts_text);
END;
CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts(customers_fts, rowid, name, company, contacts_text) VALUES ('delete', old.rid, old.name, old.company, old.contacts_text);
END;
CREATE TRIGGER customers_fts_update AFTER UPDATE OF name, company, contacts_text ON customers BEGIN
    INSERT INTO customers_fts(customers_fts, rowid, name, company, contacts_text) VALUES ('delete', old.rid, old.name, old.company, old.contacts_text);
    INSERT INTO customers_fts(rowid, name, company, contacts_text) VALUES (new.rid, new.name, new.company, new.contacts_text);
END;

CREATE VIRTUAL TABLE calls_fts USING fts5(
    notes, disposition, from_number, to_number, content='calls', content_rowid='rid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER calls_fts_insert AFTER INSERT ON calls BEGIN
    INSERT INTO calls_fts(rowid, notes, disposition, from_number, to_number) VALUES (new.rid, new.notes, new.disposition, new.from_number, new.to_number);
END;
CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN
    INSERT INTO calls_fts(calls_fts, rowid, notes, disposition, from_number, to_number) VALUES ('delete', old.rid, old.notes, old.disposition, old.from_number, old.to_number);
END;
CREATE TRIGGER calls_fts_update AFTER UPDATE OF notes, disposition, from_number, to_number ON calls BEGIN
    INSERT INTO calls_fts(calls_fts, rowid, notes, disposition, from_number, to_number) VALUES ('delete', old.rid, old.notes, old.disposition, old.from_number, old.to_number);
    INSERT INTO calls_fts(rowid, notes, disposition, from_number, to_number) VALUES (new.rid, new.notes, new.disposition, new.from_number, new.to_number);
END;
