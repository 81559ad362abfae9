-- Photo blobs (docs/adr/0016-photo-blobs.md): as SQLite's 006_blobs.sql.
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);

CREATE TABLE blob_upload_days (
    device_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (device_id, day)
);
