-- fieldsync server, schema 2 (SQLite): a change is stored under the log row that carried
-- it. Keyed by its hash, every stored change touched a random page of the hash index, so a
-- push of a few hundred changes wrote several hundred pages to the WAL; keyed by `seq`, the
-- changes of a push are appended side by side, and the feed reads a change by its log row.
-- Duplicates are refused before this table is reached: a push keeps only the changes its
-- document lacks.

CREATE TABLE changes_by_seq (
    seq    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    hash   TEXT NOT NULL,
    bytes  BLOB NOT NULL
) STRICT;
INSERT INTO changes_by_seq (seq, doc_id, hash, bytes)
    SELECT seq, doc_id, hash, bytes FROM changes ORDER BY seq;
DROP TABLE changes;
ALTER TABLE changes_by_seq RENAME TO changes;
CREATE INDEX changes_by_doc ON changes (doc_id, seq);
