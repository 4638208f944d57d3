-- The audit log (audit.rs): each entry chained to the one before by its hash. `detail` is the
-- exact JSON text that was hashed.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    client_at BIGINT,
    action    TEXT NOT NULL,
    actor     TEXT,
    subject   TEXT,
    address   TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
