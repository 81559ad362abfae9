-- fieldsync server, PostgreSQL schema 3: the audit trail of admin actions, and when each
-- device was last seen syncing (for `admin devices --stale`).

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);

ALTER TABLE devices ADD COLUMN last_seen_at BIGINT;
