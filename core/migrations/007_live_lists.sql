-- Schema 7: what the live lists of an app's screens read without a scan.
-- The store list asks, for each store of a territory, its account manager's latest visit
-- and whether that manager visited in a week or a month: one index lookup per store.
CREATE INDEX IF NOT EXISTS visit_by_store_visitor ON visit_index (store_id, visitor, check_in_at);
-- The map entries of each document that hold concurrent values (two devices set them at
-- once), for the list of documents in conflict; rewritten with the document's index rows.
CREATE TABLE IF NOT EXISTS conflict_index (
    doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    field  TEXT NOT NULL,
    PRIMARY KEY (doc_id, field)
) STRICT;
