-- fieldsync local store, schema 11: every territory a store has been in, and from when.
-- Read from the history of the store document's `territory` field (each reassignment is
-- a stamped write the document keeps), so the rules judged over past weeks owe or credit
-- a store to the manager who held it then: R1's weeks and R5's walks over a month
-- (`LocalStore::weeks_missed`, `walks_missed`) and R4's spot checks
-- (`supervision_month`). A store's rows go with its document. `from_at` is the
-- assignment's stamp in milliseconds. The rows are derived from the stored documents by
-- the migration (`REINDEX` in `store/migrate.rs`).
CREATE TABLE store_assignment (
    store_id  TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    from_at   INTEGER NOT NULL,
    territory TEXT NOT NULL,
    PRIMARY KEY (store_id, from_at)
) STRICT;
CREATE INDEX store_assignment_by_territory ON store_assignment (territory, store_id);
