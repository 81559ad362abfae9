-- fieldsync local store, schema 10: since when a store has been its account manager's.
-- R1 over a month (`LocalStore::weeks_missed`) owes a store a week only once it was the
-- manager's before that week began: a store imported or reassigned mid-month is not
-- missed in the weeks before. It is the stamp of the store's `territory` field, written
-- when the store was created or last reassigned. The rows written before are derived
-- again from their documents by the migration (`REINDEX` in `store/migrate.rs`).
ALTER TABLE store_index ADD COLUMN assigned_at INTEGER;
