-- fieldsync server, PostgreSQL schema 4: device tokens expire and are rotated through sync
-- (see the SQLite schema 5 for what each column means).

ALTER TABLE devices ADD COLUMN token_expires_at BIGINT;
ALTER TABLE devices ADD COLUMN previous_token_hash BYTEA;
ALTER TABLE devices ADD COLUMN previous_token_expires_at BIGINT;
ALTER TABLE devices ADD COLUMN token_issued_at BIGINT;
CREATE INDEX devices_by_previous_token ON devices (previous_token_hash)
    WHERE previous_token_hash IS NOT NULL;
