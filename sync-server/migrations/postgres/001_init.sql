-- fieldsync server, schema 1 (PostgreSQL). The same tables as the SQLite schema, plus the
-- log counter that makes the cursor exact across instances (docs/protocol.md, "The cursor").

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('account_manager', 'market_team', 'supervisor', 'admin')),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    -- SHA-256 of the bearer token; the token itself is never stored
    token_hash  BYTEA NOT NULL UNIQUE,
    enrolled_at BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE enrollment_codes (
    code_hash  BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device_id  TEXT
);

-- Every Automerge actor belongs to the device that first used it.
CREATE TABLE actors (
    actor     TEXT PRIMARY KEY,
    device_id TEXT NOT NULL
);

-- What each document is about, read from its content.
CREATE TABLE docs (
    id       TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    store_id TEXT,
    manager  TEXT,
    heads    TEXT NOT NULL
);
CREATE INDEX docs_by_store ON docs (store_id);
CREATE INDEX docs_by_manager ON docs (manager);

-- One row per document ever pushed, locked (in id order) by every push that writes the
-- document, new or not: pushes of one document through different instances take turns.
CREATE TABLE doc_locks (
    id TEXT PRIMARY KEY
);

-- The scope facts of each store: whose territory, whether on the demo street.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    territory   TEXT NOT NULL,
    demo_street BOOLEAN NOT NULL
);
CREATE INDEX stores_by_territory ON stores (territory);

-- The last cursor handed out. A push takes this row's lock when it reserves its log rows
-- and keeps it until it commits, so pushes commit in the order of their cursors.
CREATE TABLE log_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO log_counter (id, last) VALUES (1, 0);

CREATE TABLE log (
    seq           BIGINT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('change', 'scope')),
    doc_id        TEXT,
    change_hash   TEXT,
    device_id     TEXT,
    store_id      TEXT,
    old_territory TEXT,
    new_territory TEXT,
    old_demo      BOOLEAN,
    new_demo      BOOLEAN,
    at            BIGINT NOT NULL
);
CREATE INDEX log_scope_moves ON log (store_id, at) WHERE kind = 'scope';

CREATE TABLE changes (
    hash   TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    bytes  BYTEA NOT NULL
);
CREATE INDEX changes_by_doc ON changes (doc_id, seq);
