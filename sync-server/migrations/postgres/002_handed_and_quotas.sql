-- fieldsync server, schema 2 (PostgreSQL): the same as SQLite's schema 3. What a push needs
-- to judge writes to a store that left the device's scope
-- (docs/adr/0006-writes-after-a-store-leaves-the-scope.md), and the quotas
-- (docs/operations.md, "Quotas").

-- The last log position handed to the device in a feed response, kept exact at every
-- scope row: the device was told of the scope event at position M when `handed >= M`.
ALTER TABLE devices ADD COLUMN handed BIGINT NOT NULL DEFAULT 0;
-- Servers before this schema let a device write a store for 30 days after it left. Every
-- device starts as told of the scope events older than that and of none since, so nothing
-- is refused now that was accepted the moment before the upgrade; each device's next feed
-- that passes a scope event records where it really stands.
UPDATE devices SET handed = (
    SELECT COALESCE(MAX(seq), 0) FROM log
    WHERE at <= (extract(epoch FROM now()) * 1000)::bigint - 30 * 86400000::bigint
);

-- Bytes of each document's stored changes, for the per-document limit.
ALTER TABLE docs ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE docs SET bytes = (
    SELECT COALESCE(SUM(length(c.bytes)), 0) FROM changes c WHERE c.doc_id = docs.id
);

-- Bytes of changes each device stored per UTC day (`day`: days since 1970-01-01).
CREATE TABLE device_days (
    device_id TEXT NOT NULL,
    day       BIGINT NOT NULL,
    bytes     BIGINT NOT NULL,
    PRIMARY KEY (device_id, day)
);

-- Scope rows are few among the changes: the feed asks whether one lies in a range, a push
-- reads those of one store (`log_scope_moves` of schema 1 serves that).
CREATE INDEX log_scope_by_seq ON log (seq) WHERE kind = 'scope';
