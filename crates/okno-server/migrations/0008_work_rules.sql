-- The center's work rules (work/): the routing rule set, reply templates, SLA policies with
-- their calendars. Specs are stored as the JSON of okno-rules' types and compiled there; a
-- row here always compiled when it was saved.

-- The rule set is saved whole (order matters); `version` lets two admins' edits conflict
-- instead of one silently undoing the other, and lets instances cache the compiled set.
CREATE TABLE rule_sets (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    BIGINT NOT NULL,
    rules      JSONB NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT REFERENCES operators(id)
);
INSERT INTO rule_sets (id, version, rules, updated_at) VALUES (1, 0, '[]', 0);

CREATE TABLE templates (
    id         TEXT PRIMARY KEY,
    spec       JSONB NOT NULL,
    queue_id   TEXT REFERENCES queues(id),
    owner_id   TEXT REFERENCES operators(id),
    updated_at BIGINT NOT NULL
);

CREATE TABLE sla_policies (
    id         TEXT PRIMARY KEY,
    spec       JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);
ALTER TABLE queues ADD COLUMN sla_policy_id TEXT REFERENCES sla_policies(id);

-- The clocks a policy needs besides what tickets already hold: when the ticket was resolved,
-- and when it waited on the customer ([{from, until}], until NULL while still waiting).
ALTER TABLE tickets ADD COLUMN resolution_due_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN sla_pauses JSONB NOT NULL DEFAULT '[]';
CREATE INDEX tickets_open_by_queue ON tickets(queue_id) WHERE status NOT IN ('resolved', 'closed');

-- One auto-reply per sender per template and hour (RFC 3834's advice against reply storms).
CREATE TABLE auto_replies (
    address     TEXT NOT NULL,
    template_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (address, template_id, at)
);
CREATE INDEX auto_replies_recent ON auto_replies(address, at);
