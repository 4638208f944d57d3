-- The hotline's call-queue events as they happened (issue 19): queued, offered, not answered,
-- answered and abandoned with the caller's wait, moved, callbacks, ended. The wallboard's and
-- the reports' figures are recomputed from these rows, never kept as running totals.
CREATE TABLE acd_events (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    call_id     TEXT NOT NULL,
    queue_id    TEXT NOT NULL REFERENCES queues(id),
    kind        TEXT NOT NULL,
    agent_id    TEXT REFERENCES operators(id),
    waited_ms   BIGINT,
    -- The server's own time of receipt beside the hotline's `at`.
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX acd_events_at ON acd_events (at);
CREATE INDEX acd_events_call ON acd_events (call_id);
