-- fieldsync server, schema 5 (SQLite): device tokens expire and are rotated through sync
-- (docs/protocol.md, "Token rotation"; docs/adr/0014-token-expiry-and-rotation.md).

-- When the current token stops working; NULL for a token issued before this schema (or
-- at enrollment): it never expires, and is rotated once it is half a lifetime old.
ALTER TABLE devices ADD COLUMN token_expires_at INTEGER;
-- The token the current one replaced, still accepted until its own expiry, so that a
-- device whose answer with the new token was lost keeps working (and gets a new one).
ALTER TABLE devices ADD COLUMN previous_token_hash BLOB;
ALTER TABLE devices ADD COLUMN previous_token_expires_at INTEGER;
-- When the current token was issued (enrollment before this schema: NULL, read as the
-- enrollment time).
ALTER TABLE devices ADD COLUMN token_issued_at INTEGER;
CREATE INDEX devices_by_previous_token ON devices (previous_token_hash)
    WHERE previous_token_hash IS NOT NULL;
