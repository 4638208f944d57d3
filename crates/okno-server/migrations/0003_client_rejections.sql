-- Okno server schema, version 3: the verdicts of refused mutations.
--
-- A refused mutation leaves nothing but its sequence number. Without its verdict, a retry of
-- the same push (the answer was lost) would find the sequence consumed and be told `duplicate`,
-- which the desktop reads as "applied": it would keep an optimistic effect the server refused.
-- So the refusal is remembered, in the transaction that consumes the sequence, and a repeat gets
-- the same `rejected` answer.
CREATE TABLE client_rejections (
    client_id TEXT NOT NULL REFERENCES client_sequences(client_id),
    seq       BIGINT NOT NULL,
    code      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (client_id, seq)
);
