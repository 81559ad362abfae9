-- Photo blobs (docs/adr/0016-photo-blobs.md): the bytes live in the blob store (a folder
-- under the data folder, or S3); here are the verified blobs, for retention and reports,
-- and each device's uploaded bytes per day, for its quota.
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);

CREATE TABLE blob_upload_days (
    device_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
);
