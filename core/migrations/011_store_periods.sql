-- fieldsync local store, schema 11: a store's life, period by period: which territory held
-- it, whether it was on the demo street, whether R1 covered it (not a small grocery, Z3),
-- from when. Read from the history of the store document's `territory`, `demo_street`,
-- `format` and `size` (each edit is a stamped write the document keeps), so the rules
-- judged over past weeks see the store as it was then: R1's weeks and R5's walks over a
-- month (`LocalStore::weeks_missed`, `walks_missed`) and R4's spot checks
-- (`supervision_month`). A store's rows go with its document. `from_at` is the stamp, in
-- milliseconds, that began the period. The rows are derived from the stored documents by
-- the migration (`REINDEX` in `store/migrate.rs`).
CREATE TABLE store_period (
    store_id    TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    from_at     INTEGER NOT NULL,
    territory   TEXT NOT NULL,
    demo_street INTEGER NOT NULL,
    r1_covered  INTEGER NOT NULL,
    PRIMARY KEY (store_id, from_at)
) STRICT;
CREATE INDEX store_period_by_territory ON store_period (territory, store_id);
