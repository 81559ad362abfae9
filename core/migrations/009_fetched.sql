-- fieldsync local store, schema 9: documents fetched on demand from outside the device's
-- working set (docs/protocol.md, "The working set"). The server sends no later change of
-- them, so they stay only until the app's rule lets them go (`keep_fetched`), or as long
-- as an edit of theirs waits for the server.
CREATE TABLE fetched (
    doc_id TEXT PRIMARY KEY,
    fetched_at INTEGER NOT NULL
);
