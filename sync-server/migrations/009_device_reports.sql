-- fieldsync server, schema 9 (SQLite): what each device last said about itself in a sync
-- request (docs/protocol.md, "The device report"), and the documents the server refused it,
-- for the console's fleet page. Display only: nothing else reads these rows. (Number 8 is
-- another change's; the runner applies whatever is above the database's version.)

CREATE TABLE device_reports (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    received_at INTEGER NOT NULL,   -- server time the request carrying it arrived, ms UTC
    protocol INTEGER NOT NULL,      -- the request's protocol version
    app_version TEXT,               -- NULL: not reported (an older app)
    pending_edits INTEGER,
    pending_documents INTEGER,
    rejected_documents INTEGER,     -- as the phone counts them
    device_time INTEGER,            -- the phone's clock when it built the request
    drift_ms INTEGER,               -- device_time - received_at
    refused_documents INTEGER NOT NULL DEFAULT 0, -- documents the server refused it, in all
    last_refused_at INTEGER
) STRICT;
