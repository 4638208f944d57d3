-- Okno server schema, version 2: the deployment's identity.
--
-- Every instance serving this database reads the same id at start and uses it to name its NATS
-- subject (`okno.live.<id>`), so instances of one deployment exchange pokes and presence, and
-- other deployments (or tests) sharing the NATS server never hear them.
CREATE TABLE deployment (
    id         TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO deployment (id) VALUES (md5(random()::text || clock_timestamp()::text));
