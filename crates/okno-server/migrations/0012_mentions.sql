-- @mentions and followers (issue 18). A contractor without the desk is reached by email: the
-- address is kept on the account (set with `okno-server account email NAME ADDRESS`).
ALTER TABLE operators ADD COLUMN email TEXT;
CREATE UNIQUE INDEX operators_email ON operators (lower(email)) WHERE email IS NOT NULL;

-- Who follows a ticket: mentioned in a note (reason 'mention') or following it by choice
-- ('follow'). Followers get a notice when the customer writes again or a contractor answers.
CREATE TABLE ticket_followers (
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    operator_id TEXT NOT NULL REFERENCES operators(id),
    since       BIGINT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('mention', 'follow')),
    PRIMARY KEY (ticket_id, operator_id)
);
CREATE INDEX ticket_followers_by_operator ON ticket_followers (operator_id);
