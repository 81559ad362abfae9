-- fieldsync server, schema 4 (SQLite): the audit trail of admin actions, and when each
-- device was last seen syncing (for `admin devices --stale`).

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,          -- ms since the epoch, UTC
    actor TEXT NOT NULL,          -- who ran the command (the OS user, or --actor)
    action TEXT NOT NULL,         -- add-user, enroll-code, revoke, import-stores, reassign, calendar
    subject TEXT NOT NULL,        -- the user, device, store or file acted on
    detail TEXT NOT NULL          -- what else the command was given or did
);
CREATE INDEX audit_by_time ON audit (at);

-- Set by a sync at most once an hour per device; NULL until the device's first sync.
ALTER TABLE devices ADD COLUMN last_seen_at INTEGER;
