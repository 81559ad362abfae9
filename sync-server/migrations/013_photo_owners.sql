-- fieldsync server, schema 13: who owns each photo: the user whose push first referenced
-- its hash (docs/adr/0033). A blob is read through a document only where an entry of its
-- owner references it. Documents reach the server before their photos, and a hash is
-- learned only from a document already stored, so the owner is the user who attached it.
-- For photos referenced before this schema: the blob's uploader where the ledger has one,
-- then the documents that can hold photos, listed here in the order they were first
-- stored and read when a server opens the database (`photo_owners_pending`).
CREATE TABLE photo_owners (
    hash    TEXT PRIMARY KEY,
    user_id TEXT NOT NULL
) STRICT;
INSERT OR IGNORE INTO photo_owners (hash, user_id)
    SELECT b.hash, d.user_id FROM blobs b JOIN devices d ON d.id = b.uploaded_by;
CREATE TABLE photo_owners_pending (
    doc       TEXT PRIMARY KEY,
    first_seq INTEGER NOT NULL
) STRICT;
INSERT INTO photo_owners_pending (doc, first_seq)
    SELECT d.id, COALESCE((SELECT MIN(c.seq) FROM changes c WHERE c.doc_id = d.id), 0)
    FROM docs d WHERE d.kind IN ('visit', 'task', 'complaint', 'shelf_display');
CREATE INDEX photo_owners_pending_by_seq ON photo_owners_pending (first_seq);
