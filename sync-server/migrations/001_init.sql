-- fieldsync server, schema 1 (SQLite).

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('account_manager', 'market_team', 'supervisor', 'admin')),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    -- SHA-256 of the bearer token; the token itself is never stored
    token_hash  BLOB NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE enrollment_codes (
    code_hash  BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
) STRICT;

-- Every Automerge actor belongs to the device that first used it.
CREATE TABLE actors (
    actor     TEXT PRIMARY KEY,
    device_id TEXT NOT NULL
) STRICT;

-- What each document is about, read from its content.
CREATE TABLE docs (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    store_id TEXT,
    manager  TEXT,
    heads    TEXT NOT NULL
) STRICT;
CREATE INDEX docs_by_store ON docs (store_id);
CREATE INDEX docs_by_manager ON docs (manager);

-- The scope facts of each store: whose territory, whether on the demo street.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    territory   TEXT NOT NULL,
    demo_street INTEGER NOT NULL
) STRICT;
CREATE INDEX stores_by_territory ON stores (territory);

-- The feed: one row per stored change, and one per store that moved between scopes.
-- `seq` is the cursor. Rows are only ever appended, by one writer at a time, so a
-- reader that sees row N sees every row before it (docs/protocol.md, "The cursor").
CREATE TABLE log (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL CHECK (kind IN ('change', 'scope')),
    doc_id        TEXT,
    change_hash   TEXT,
    device_id     TEXT,
    store_id      TEXT,
    old_territory TEXT,
    new_territory TEXT,
    old_demo      INTEGER,
    new_demo      INTEGER,
    at            INTEGER NOT NULL
) STRICT;

CREATE TABLE changes (
    hash   TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    bytes  BLOB NOT NULL
) STRICT;
CREATE INDEX changes_by_doc ON changes (doc_id, seq);
