-- fieldsync server, schema 11 (SQLite): visits and counts by when they happened, so that a
-- sync finds those that left a device's working set (docs/protocol.md, "The working set")
-- without reading every document.
CREATE INDEX docs_by_happened ON docs (happened_at) WHERE happened_at IS NOT NULL;
