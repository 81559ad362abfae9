-- The photo files the phone holds (content-addressed, in the folder beside this file):
-- taken here (`own`, kept until the server has them) or fetched on demand (`own` = 0,
-- evicted oldest-used first past the cache's budget). `doc_id` is a document that
-- references the hash: the one the server checks the device's access against.
CREATE TABLE photo_files (
    hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('photo', 'thumb')),
    bytes INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    own INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    added_at INTEGER NOT NULL,
    used_at INTEGER NOT NULL
) STRICT;

-- What a sync uploads next: thumbnails before photos, oldest first.
CREATE INDEX photo_files_to_upload ON photo_files (role DESC, added_at) WHERE own = 1 AND uploaded = 0;
CREATE INDEX photo_files_of_doc ON photo_files (doc_id);
-- What the cache evicts first.
CREATE INDEX photo_files_cached ON photo_files (used_at) WHERE own = 0;
