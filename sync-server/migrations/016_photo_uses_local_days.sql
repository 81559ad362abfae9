-- fieldsync server, schema 16 (SQLite): a photo's day in photo_uses is the district's local
-- date (UTC+8), not the UTC date: in China a UTC day turns at 08:00, so a photo used at
-- 07:50 and again at 08:10 the same morning read as used on two days, and one taken on 1
-- December at 07:00 fell in November's report. Every visit with a photo row is listed
-- again in photo_uses_pending, and filled in from its stored changes when the server
-- opens the database, a batch per transaction (as for schema 12).
INSERT OR IGNORE INTO photo_uses_pending (visit) SELECT DISTINCT visit FROM photo_uses;
