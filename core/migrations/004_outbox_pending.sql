-- fieldsync local store, schema 4: the documents waiting to be pushed are found through an
-- index of their own. Outbox rows stay after the server confirms them (they remember the
-- server's heads), so on a phone in use for a year a push scanned some 30,000 rows to find
-- the few hundred edited since the last sync.

CREATE INDEX outbox_pending ON outbox (first_edit_at, doc_id) WHERE local_edits > confirmed_edits;
