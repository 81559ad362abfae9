-- fieldsync server, PostgreSQL schema 8: what each device last said about itself in a sync
-- request (docs/protocol.md, "The device report"), and the documents the server refused it,
-- for the console's fleet page. Display only. (Number 7 is another change's; the runner
-- applies whatever is above the database's version.)

CREATE TABLE device_reports (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    received_at BIGINT NOT NULL,
    protocol INTEGER NOT NULL,
    app_version TEXT,
    pending_edits BIGINT,
    pending_documents BIGINT,
    rejected_documents BIGINT,
    device_time BIGINT,
    drift_ms BIGINT,
    refused_documents BIGINT NOT NULL DEFAULT 0,
    last_refused_at BIGINT
);
