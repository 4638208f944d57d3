-- Sessions: every token pair belongs to the sign-in that started it; refreshing keeps the
-- session, logout and revocation end it, and it ends anyway after the server's MAX_SESSION.
ALTER TABLE auth_tokens ADD COLUMN session_id TEXT;
ALTER TABLE auth_tokens ADD COLUMN session_started_at TIMESTAMPTZ NOT NULL DEFAULT now();
-- Tokens from before sessions: one session each (they expire within their TTL anyway).
UPDATE auth_tokens SET session_id = token_hash WHERE session_id IS NULL;
ALTER TABLE auth_tokens ALTER COLUMN session_id SET NOT NULL;
CREATE INDEX auth_tokens_by_session ON auth_tokens(session_id);
CREATE INDEX auth_tokens_by_operator ON auth_tokens(operator_id);

-- A disabled account cannot sign in, refresh or use a token it still holds.
ALTER TABLE operators ADD COLUMN disabled_at TIMESTAMPTZ;

-- Which mutation used each client sequence: the same sequence with another mutation id is a
-- client whose database went back in time, not a retry.
CREATE TABLE client_mutations (
    client_id   TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    mutation_id TEXT NOT NULL,
    PRIMARY KEY (client_id, seq)
);
