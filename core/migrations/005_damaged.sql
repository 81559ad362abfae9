-- fieldsync local store, schema 5: documents received from a peer or the server that this
-- build cannot read as their kind (an older server accepted them, or a client had a bug).
-- They are kept aside instead of failing every later sync: the changes received for the
-- document that `documents` does not hold are kept here, so nothing is lost, and merged
-- again with the next changes that arrive for it; the row goes when it reads again.
-- A document the phone could read before keeps its readable state (and the phone's own
-- edits) in `documents`; one it never could read has no row there and no index rows.
CREATE TABLE damaged (
    doc_id     TEXT PRIMARY KEY,
    -- as the document names itself, when it can say (NULL: no readable kind)
    kind       TEXT,
    -- the retail store it is about, when it can say
    store_id   TEXT,
    -- why it cannot be read, as a sentence
    reason     TEXT NOT NULL,
    -- device time when it was first found damaged, and last found so again
    found_at   INTEGER NOT NULL,
    checked_at INTEGER NOT NULL,
    -- the received changes `documents` lacks, encoded one after the other
    changes    BLOB NOT NULL
) STRICT;
CREATE INDEX damaged_by_store ON damaged (store_id);
