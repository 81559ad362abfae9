-- fieldsync server, schema 15: every stored change carries the checksum of its hash.
-- Before this schema the server took a change without comparing the 4 checksum bytes of
-- its header (bytes 5 to 8) with the first 4 bytes of its SHA-256 (Automerge's own reader
-- of changes does not compare them; its loader of stored bytes does), so a device could
-- store a change that strict readers refuse (docs/adr/0039). The hash was computed from
-- the change's content when it was stored and names it everywhere (cursors, heads), so it
-- stays; the checksum bytes are set from it. A change whose bytes already hold them is
-- left as it is. `||` joins the blob pieces byte for byte (as text: the database is
-- UTF-8, so nothing is converted) and the result is made a blob again.
UPDATE changes
   SET bytes = CAST(substr(bytes, 1, 4) || unhex(substr(hash, 1, 8)) || substr(bytes, 9) AS BLOB)
 WHERE substr(bytes, 5, 4) IS NOT unhex(substr(hash, 1, 8));
