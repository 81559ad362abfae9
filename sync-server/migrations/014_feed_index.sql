-- fieldsync server, schema 14: each document's index rows as its last push left it
-- (docs/adr/0035), sent beside its changes on a first sync to a phone that asks for them,
-- so that it stores the document without building it. Written with `heads` by every push
-- (NULL for kinds without rows); documents stored before this schema have none and are
-- sent as changes alone until their next push.
ALTER TABLE docs ADD COLUMN feed_index BLOB;
