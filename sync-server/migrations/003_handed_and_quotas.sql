-- fieldsync server, schema 3 (SQLite): what a push needs to judge writes to a store that
-- left the device's scope (docs/adr/0006-writes-after-a-store-leaves-the-scope.md), and
-- the quotas (docs/operations.md, "Quotas").

-- The last log position handed to the device in a feed response, kept exact at every
-- scope row: the device was told of the scope event at position M when `handed >= M`.
ALTER TABLE devices ADD COLUMN handed INTEGER NOT NULL DEFAULT 0;
-- Servers before this schema let a device write a store for 30 days after it left. Every
-- device starts as told of the scope events older than that and of none since, so nothing
-- is refused now that was accepted the moment before the upgrade; each device's next feed
-- that passes a scope event records where it really stands.
UPDATE devices SET handed = (
    SELECT COALESCE(MAX(seq), 0) FROM log
    WHERE at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 30 * 86400000
);

-- Bytes of each document's stored changes, for the per-document limit.
ALTER TABLE docs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE docs SET bytes = (
    SELECT COALESCE(SUM(length(c.bytes)), 0) FROM changes c WHERE c.doc_id = docs.id
);

-- Bytes of changes each device stored per UTC day (`day`: days since 1970-01-01).
CREATE TABLE device_days (
    device_id TEXT NOT NULL,
    day       INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
) STRICT, WITHOUT ROWID;

-- Scope rows are few among the changes: the feed asks whether one lies in a range, a push
-- reads those of one store.
CREATE INDEX log_scope_by_seq ON log (seq) WHERE kind = 'scope';
CREATE INDEX log_scope_by_store ON log (store_id, seq) WHERE kind = 'scope';
