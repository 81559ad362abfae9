-- fieldsync server, schema 12 (SQLite): every photo each visit uses (its hash, the store,
-- the UTC day it was taken, or else added), kept as pushes land, so that `admin report` and
-- `admin photo-reuse` find a photo used in more than one store or on more than one day
-- without loading every visit of the history. Visits stored before this schema are listed
-- in photo_uses_pending and filled in from their stored changes when the server opens the
-- database, a batch per transaction, so that an interrupted start resumes where it stopped.
CREATE TABLE photo_uses (
    visit TEXT NOT NULL,
    hash  TEXT NOT NULL,
    store TEXT NOT NULL,
    day   INTEGER NOT NULL,
    PRIMARY KEY (visit, hash, day)
) WITHOUT ROWID;
CREATE INDEX photo_uses_by_hash ON photo_uses (hash);
CREATE TABLE photo_uses_pending (visit TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO photo_uses_pending (visit) SELECT id FROM docs WHERE kind = 'visit';
