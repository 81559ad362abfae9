-- fieldsync local store, schema 15: every document of this phone that references each of
-- its own photos (and thumbnails). `photo_files.doc_id` names one document per hash, the
-- last one the photo was added to: the same picture added to a visit and then to a display
-- check named the display alone, so the visit's receipt read `OnServer` before the photo
-- was uploaded, and the upload waited for the display. A receipt now counts the photos of
-- every document that references them, and the upload goes through any of them the server
-- holds. `IF NOT EXISTS` / `OR IGNORE`: a store taken back to an older schema by a test
-- keeps the tables.
CREATE TABLE IF NOT EXISTS photo_docs (
    hash TEXT NOT NULL REFERENCES photo_files (hash) ON DELETE CASCADE,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (hash, doc_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS photo_docs_of_doc ON photo_docs (doc_id);

INSERT OR IGNORE INTO photo_docs (hash, doc_id)
SELECT hash, doc_id FROM photo_files WHERE own = 1;

-- Own photos that cannot be sent, with why: the server refused them through every document
-- the phone could name (a store that left the device's scope, another user who attached the
-- same picture first), or their file cannot be read. They leave the upload queue, so a
-- document kept on the phone only for them may go, and count as blocked in the photos'
-- progress, until `retry_blocked_photos` queues them again. The file stays.
CREATE TABLE IF NOT EXISTS photo_blocked (
    hash TEXT PRIMARY KEY REFERENCES photo_files (hash) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
