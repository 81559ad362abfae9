-- fieldsync local store, schema 5: what the rule fixes of R3 and R7 read from the index.
-- The rows written before are derived again from their documents by the migration (see
-- `REINDEX` in `local_store/migrate.rs`): SQL alone cannot fill these columns.

-- R3: how many lines of a count have a counted quantity, so that "nothing counted yet" is
-- told apart from "book total 0"; `abs_diff_total` now holds the real Σ|book − counted|
-- over the counted lines in both cases (before, 0 whenever the book total was 0).
ALTER TABLE count_index ADD COLUMN counted_lines INTEGER NOT NULL DEFAULT 0;

-- R7: when the store's current quarterly rating was given (its stamp), NULL when unrated.
ALTER TABLE store_index ADD COLUMN rating_at INTEGER;

-- R7: the rating a rectification task answers (the `rating_at` of its store then), NULL
-- for a task that answers no rating.
ALTER TABLE task_index ADD COLUMN answers_rating_at INTEGER;
CREATE INDEX task_by_rating ON task_index (store_id, answers_rating_at)
    WHERE answers_rating_at IS NOT NULL;
