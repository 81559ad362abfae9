-- fieldsync local store, schema 2: what the sync client needs besides the outbox.

-- 1 while the document's changes are on their way to the server (the receipt "uploading").
ALTER TABLE outbox ADD COLUMN uploading INTEGER NOT NULL DEFAULT 0;

-- Documents the server announced as out of this device's scope; each is dropped once none
-- of its local edits waits for the server.
CREATE TABLE leaving (
    doc_id TEXT PRIMARY KEY
) STRICT;
