-- Satisfaction marks (work/csat.rs): one request per asked ticket, answered once. The links are
-- signed with the deployment's own key, made by the server on first use.
ALTER TABLE deployment ADD COLUMN csat_key TEXT;

CREATE TABLE csat_requests (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    channel     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    answered_at BIGINT,
    score       TEXT,
    comment     TEXT
);
-- A ticket is asked once (a reopened and resolved-again ticket is not asked twice).
CREATE UNIQUE INDEX csat_requests_one_per_ticket ON csat_requests(ticket_id);

-- The breach watch (work/sla.rs) looks for open tickets past their next target.
CREATE INDEX tickets_open_by_due ON tickets(sla_due_at) WHERE status NOT IN ('resolved', 'closed');
