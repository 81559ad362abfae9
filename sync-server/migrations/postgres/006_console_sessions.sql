-- fieldsync server, PostgreSQL schema 6: the supervision console's one-time sign-in codes
-- and its sessions (docs/adr/0017-supervision-console.md). Hashes only, as for devices.

CREATE TABLE console_codes (
    code_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE console_sessions (
    session_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
