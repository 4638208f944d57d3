-- Okno server schema, version 1. Mirrors the synced entities of the desktop's SQLite store
-- (crates/okno-store/migrations/0001_initial.sql); ids are the clients' UUIDv7 strings, times
-- are Unix milliseconds. The server's own tables: accounts, grants, tokens, sequences, changelog.

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
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'offline',
    state_since   BIGINT NOT NULL DEFAULT 0,
    -- Argon2id PHC string; NULL for an account that cannot sign in.
    password_hash TEXT
);

-- Which queues an operator or contractor works (team leads and admins see every queue).
CREATE TABLE operator_queues (
    operator_id TEXT NOT NULL REFERENCES operators(id),
    queue_id    TEXT NOT NULL REFERENCES queues(id),
    PRIMARY KEY (operator_id, queue_id)
);

-- Opaque bearer tokens, stored as SHA-256 of the token: a database leak gives no usable token.
CREATE TABLE auth_tokens (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_tokens_by_expiry ON auth_tokens(expires_at);

CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    company    TEXT,
    tier       TEXT NOT NULL,
    tags       JSONB NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE customer_identities (
    customer_id TEXT NOT NULL REFERENCES customers(id),
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    normalized  TEXT NOT NULL,
    PRIMARY KEY (kind, normalized, customer_id)
);
CREATE INDEX customer_identities_by_customer ON customer_identities(customer_id);

CREATE TABLE tickets (
    id                    TEXT PRIMARY KEY,
    number                BIGINT NOT NULL UNIQUE,
    subject               TEXT NOT NULL,
    customer_id           TEXT NOT NULL REFERENCES customers(id),
    channel               TEXT NOT NULL,
    status                TEXT NOT NULL,
    priority              TEXT NOT NULL,
    queue_id              TEXT NOT NULL REFERENCES queues(id),
    assignee_id           TEXT REFERENCES operators(id),
    tags                  JSONB NOT NULL DEFAULT '[]',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    sla_due_at            BIGINT,
    first_response_due_at BIGINT,
    first_response_at     BIGINT,
    preview               TEXT NOT NULL DEFAULT '',
    message_count         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_by_queue ON tickets(queue_id, status);
CREATE INDEX tickets_by_assignee ON tickets(assignee_id, status);

-- Who owned a ticket when. Invariant: at most one open assignment per ticket (the partial
-- unique index), so two operators can never both own a ticket, whatever path writes here.
CREATE TABLE ticket_assignments (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    operator_id TEXT NOT NULL REFERENCES operators(id),
    assigned_at BIGINT NOT NULL,
    released_at BIGINT
);
CREATE UNIQUE INDEX ticket_assignments_one_owner ON ticket_assignments(ticket_id) WHERE released_at IS NULL;

-- Append-only: inserted with the client's id, a repeat is a no-op.
CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    channel     TEXT NOT NULL,
    direction   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    operator_id TEXT REFERENCES operators(id),
    subject     TEXT,
    body        TEXT NOT NULL,
    attachments JSONB NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL
);
CREATE INDEX messages_by_ticket ON messages(ticket_id, created_at);

-- Append-only.
CREATE TABLE calls (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT REFERENCES customers(id),
    ticket_id     TEXT REFERENCES tickets(id),
    queue_id      TEXT REFERENCES queues(id),
    operator_id   TEXT REFERENCES operators(id),
    direction     TEXT NOT NULL,
    from_number   TEXT NOT NULL,
    to_number     TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    answered_at   BIGINT,
    ended_at      BIGINT,
    outcome       TEXT NOT NULL,
    disposition   TEXT,
    notes         TEXT NOT NULL DEFAULT '',
    recording_ref TEXT
);
CREATE INDEX calls_by_customer ON calls(customer_id, started_at);

-- Every fact the reports need, append-only. Ids of events the server derives from a mutation
-- are `<mutation_id>/<n>`, so a replayed mutation cannot record them twice.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    ticket_id   TEXT,
    call_id     TEXT,
    operator_id TEXT,
    queue_id    TEXT,
    customer_id TEXT,
    data        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_at ON events(at);

-- The last outbox sequence applied per client (desktop installation).
CREATE TABLE client_sequences (
    client_id   TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    last_seq    BIGINT NOT NULL
);

-- Every committed change, as the snapshot clients pull. Versions become visible in commit
-- order: a transaction takes its versions from `changelog_version` while holding a
-- transaction-level advisory lock, in `okno_append_changelog()` sent together with its COMMIT
-- (see the server's `changelog::append_and_commit`).
CREATE TABLE changelog (
    version   BIGINT PRIMARY KEY,
    bucket    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    data      JSONB NOT NULL
);
CREATE INDEX changelog_by_bucket ON changelog(bucket, version);
CREATE SEQUENCE changelog_version AS BIGINT;

-- Appends the changes staged in the transaction-local setting `okno.changes` (a JSON array of
-- {bucket, entity, id, op, data}) with the next versions; returns the last version. Called in
-- the same message as COMMIT, so the lock (8028632185724826227 = "oknovers", the server's
-- changelog::VERSION_LOCK) is held for this function plus the commit, never across a round trip.
CREATE FUNCTION okno_append_changelog() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    changes JSONB := current_setting('okno.changes')::jsonb;
    n BIGINT := jsonb_array_length(changes);
    last_version BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(8028632185724826227);
    last_version := setval('changelog_version', nextval('changelog_version') + n - 1);
    INSERT INTO changelog (version, bucket, entity, entity_id, op, data)
    SELECT last_version - n + c.ord, c.value->>'bucket', c.value->>'entity', c.value->>'id', c.value->>'op', c.value->'data'
    FROM jsonb_array_elements(changes) WITH ORDINALITY AS c(value, ord);
    RETURN last_version;
END
$$;
