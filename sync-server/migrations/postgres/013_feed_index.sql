-- fieldsync server, schema 13 (PostgreSQL): each document's index rows as its last push
-- left them (docs/adr/0035; SQLite's schema 14).
ALTER TABLE docs ADD COLUMN feed_index BYTEA;
