-- fieldsync server, schema 9 (PostgreSQL): when a visit checked in or a count began, as the
-- document says, so that a first sync sends what a new phone needs first (docs/protocol.md,
-- "A first sync"). Ordering only, never a permission. Set by the first push that carries
-- the value and never changed after; documents stored before this schema are filled in
-- from their stored changes when the server opens the database.
ALTER TABLE docs ADD COLUMN happened_at BIGINT;
