-- fieldsync server, schema 14 (PostgreSQL): every stored change carries the checksum of
-- its hash (SQLite's schema 15; docs/adr/0039). Bytes 5 to 8 of a change's header are set
-- to the first 4 bytes of the SHA-256 it was stored under, where they differ.
UPDATE changes
   SET bytes = overlay(bytes PLACING decode(substr(hash, 1, 8), 'hex') FROM 5 FOR 4)
 WHERE substring(bytes FROM 5 FOR 4) IS DISTINCT FROM decode(substr(hash, 1, 8), 'hex');
