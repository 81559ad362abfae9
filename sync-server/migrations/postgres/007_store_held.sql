-- fieldsync server, schema 7 (PostgreSQL): every value a store's copied fields have held.
-- A visit copies its store's location and geofence, a complaint whether the store is
-- urban; the phone copies them from what it last heard, so the server judges a copy
-- against every value the store has held (docs/adr/0019-store-copies.md). Rows are added
-- as store changes are stored; stores stored before this schema are filled in when the
-- server opens the database.

CREATE TABLE store_held (
    store TEXT NOT NULL,
    field TEXT NOT NULL CHECK (field IN ('lat', 'lng', 'datum', 'geofence_m', 'market')),
    value TEXT NOT NULL,
    PRIMARY KEY (store, field, value)
);
