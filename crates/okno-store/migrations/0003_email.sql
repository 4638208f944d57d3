-- Okno local store, schema version 3: what the desk shows of an email message (addresses,
-- sanitised HTML, notes, a reply's delivery state), as the server sends it: JSON, NULL for
-- messages of other channels.
ALTER TABLE messages ADD COLUMN email TEXT;
