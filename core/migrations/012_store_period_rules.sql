-- fieldsync local store, schema 12: each period of a store's life also says whether the
-- store was a functional terminal and how it was rated (the code and the stamp it was given
-- with), read from the history of the document's `functional` and `rating`, so that R3's
-- findings, R7's follow-ups and R8's training days of a past month judge the store as it
-- was then, not as it is now (docs/adr/0034). The rows are derived again from the stored
-- documents by the migration (`REINDEX` in `store/migrate.rs`), which also rewrites every
-- count's index row: a finished count's line left uncounted (added on another phone while
-- it was finished) counts as found empty.
ALTER TABLE store_period ADD COLUMN functional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE store_period ADD COLUMN rating TEXT;
ALTER TABLE store_period ADD COLUMN rating_at INTEGER;
