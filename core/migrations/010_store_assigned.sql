-- fieldsync local store, schema 10: since when a store has been its account manager's.
-- R1 over a month (`LocalStore::weeks_missed`) owes a store a week only once it was the
-- manager's before that week began: a store imported or reassigned mid-month is not
-- missed in the weeks before. It is the stamp of the store's `territory` field, written
-- when the store was created or last reassigned. The rows written before are derived
-- again from their documents by the migration (`REINDEX` in `store/migrate.rs`).
ALTER TABLE store_index ADD COLUMN assigned_at INTEGER;

-- The roles of the district's users as the server holds them, set by the server's own
-- stores (the report's admin device, the console's replica; phones leave it empty). Once
-- set, R4's and R5's cadences count a visit by its kind only when its visitor holds the
-- role that records the kind (`LocalStore::set_user_roles`).
CREATE TABLE user_roles (
    user_id TEXT PRIMARY KEY,
    role    TEXT NOT NULL
) STRICT;
