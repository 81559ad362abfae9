-- fieldsync server, schema 7 (SQLite): the supervision console's one-time sign-in codes and
-- its sessions (docs/adr/0017-supervision-console.md). Only SHA-256 hashes of codes and
-- session ids are kept; the CSRF token is not a credential on its own and is kept as is.

CREATE TABLE console_codes (
    code_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,   -- ms since the epoch, UTC
    expires_at INTEGER NOT NULL,
    used_at INTEGER                -- set when traded for a session; a code works once
) STRICT;

CREATE TABLE console_sessions (
    session_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER               -- set by sign-out
) STRICT;
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
