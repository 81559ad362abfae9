-- fieldsync local store, schema 3: a push reads a document's unconfirmed changes from its
-- stored chunks instead of loading the document.

-- The `chunks.seq` of the oldest chunk holding a local change the server has not confirmed:
-- the chunks from there on hold every such change (and maybe some the server has, which it
-- ignores). NULL when not known (the chunks were compacted into the snapshot since, or the
-- edit was made before schema 3): the push then loads the document.
ALTER TABLE outbox ADD COLUMN first_chunk INTEGER;
