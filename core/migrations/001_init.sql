-- fieldsync local store, schema 1.
-- Documents are the truth; every *_index table is derived from them and rewritten, in the
-- same transaction, whenever the document changes (locally or by a merge from a peer).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    -- the retail store the document is about (the store's own id for a store document)
    store_id    TEXT,
    -- the last compacted full save; NULL until the first compaction
    snapshot    BLOB,
    -- incremental chunks saved since the snapshot (rows of `chunks`), and their bytes
    chunk_count INTEGER NOT NULL DEFAULT 0,
    chunk_bytes INTEGER NOT NULL DEFAULT 0,
    -- current heads: concatenated 32-byte change hashes
    heads       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_by_kind ON documents (kind, store_id);

CREATE TABLE chunks (
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT, WITHOUT ROWID;

-- What the server has not confirmed yet. A document has a row here from its first local
-- edit until the server confirms heads that include every local change: `local_edits`
-- counts local commits, `confirmed_edits` how many of them the server has confirmed.
-- `server_heads` are the heads the server last confirmed holding (empty: nothing yet).
-- `rejected` holds the server's reason when it refused the document's changes.
CREATE TABLE outbox (
    doc_id          TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    local_edits     INTEGER NOT NULL,
    confirmed_edits INTEGER NOT NULL DEFAULT 0,
    first_edit_at   INTEGER NOT NULL,
    server_heads    BLOB NOT NULL DEFAULT x'',
    rejected        TEXT
) STRICT;

CREATE TABLE store_index (
    id             TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    licence        TEXT NOT NULL,
    name           TEXT NOT NULL,
    format         TEXT NOT NULL,
    market         TEXT NOT NULL,
    size           TEXT NOT NULL,
    tier           TEXT NOT NULL,
    demo_street    INTEGER NOT NULL,
    functional     INTEGER NOT NULL,
    rating         TEXT,
    territory      TEXT NOT NULL,
    lat            REAL NOT NULL,
    lng            REAL NOT NULL,
    geofence_m     REAL NOT NULL
) STRICT;
CREATE INDEX store_by_territory ON store_index (territory);
CREATE INDEX store_by_licence ON store_index (licence);

CREATE TABLE visit_index (
    id            TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    store_id      TEXT NOT NULL,
    visitor       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    check_in_at   INTEGER NOT NULL,
    check_out_at  INTEGER,
    in_range      INTEGER
) STRICT;
CREATE INDEX visit_by_store ON visit_index (store_id, check_in_at);
CREATE INDEX visit_by_visitor ON visit_index (visitor, check_in_at);

CREATE TABLE display_index (
    id              TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    store_id        TEXT NOT NULL,
    missing_tags    INTEGER NOT NULL,
    failed_standards INTEGER NOT NULL,
    last_checked_at INTEGER
) STRICT;
CREATE INDEX display_by_store ON display_index (store_id);

-- who checked a shelf display, and when last (derived from the stamps of its verdicts)
CREATE TABLE display_check_index (
    display_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    checker    TEXT NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (display_id, checker)
) STRICT, WITHOUT ROWID;

CREATE TABLE count_index (
    id           TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    store_id     TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    lines        INTEGER NOT NULL,
    book_total   INTEGER NOT NULL,
    abs_diff_total INTEGER NOT NULL
) STRICT;
CREATE INDEX count_by_store ON count_index (store_id, finished_at);

CREATE TABLE scorecard_index (
    id         TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    manager    TEXT NOT NULL,
    month      TEXT NOT NULL,
    supervisor TEXT NOT NULL,
    -- NULL until all four dimensions are scored
    total      REAL,
    acknowledged_at INTEGER
) STRICT;
CREATE INDEX scorecard_by_manager ON scorecard_index (manager, month);

CREATE TABLE task_index (
    id        TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    store_id  TEXT NOT NULL,
    title     TEXT NOT NULL,
    assignee  TEXT NOT NULL,
    -- the current state (the one every device shows when there is a conflict)
    state     TEXT NOT NULL,
    deadline  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX task_by_assignee ON task_index (assignee, deadline);
CREATE INDEX task_by_store ON task_index (store_id, deadline);

-- One row per complaint or request, with the instant of each event recorded so far (the
-- current value; NULL until recorded), so R9's clocks are computed without the document.
CREATE TABLE complaint_index (
    id              TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    store_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    on_site_applies INTEGER NOT NULL,
    refund_due      INTEGER,
    on_site_at      INTEGER,
    handled_at      INTEGER,
    callback_at     INTEGER,
    replaced_at     INTEGER,
    refunded_at     INTEGER,
    replied_at      INTEGER,
    visited_at      INTEGER,
    satisfaction_callback_at INTEGER,
    -- when every required event had happened and every clock was final; NULL while open
    closed_at       INTEGER
) STRICT;
CREATE INDEX complaint_by_store ON complaint_index (store_id, closed_at);
