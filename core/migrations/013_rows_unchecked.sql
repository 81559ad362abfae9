-- fieldsync local store, schema 13: a document stored on a first sync from the rows the
-- server derived (docs/adr/0035), not built on the phone, is marked until the phone has
-- built it and derived its rows itself (docs/adr/0036): `LocalStore::check_received`
-- finds them through the partial index, checks and compacts them, and clears the mark.
ALTER TABLE documents ADD COLUMN rows_unchecked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_rows_unchecked ON documents (id) WHERE rows_unchecked = 1;
-- A store of the build before this one cannot tell a document stored that way from one
-- created here and never compacted (both have no snapshot): both are checked, which costs
-- one build and one compaction of a document that was fine.
UPDATE documents SET rows_unchecked = 1 WHERE snapshot IS NULL;
