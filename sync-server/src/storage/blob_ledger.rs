//! The metadata of photo blobs on both backends (migrations SQLite 006, PostgreSQL 005):
//! each device's uploaded bytes per day, counted against its quota in one statement so
//! that two uploads at once cannot both slip under the limit, and the verified blobs,
//! for retention and reports. The bytes themselves are the blob store's
//! (`crate::blobs::store`). The backends' `SyncStorage` methods call these functions.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::AppResult;

/// A verified blob as the server recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRecord {
    pub hash: String,
    pub bytes: i64,
    pub uploaded_by: String,
    pub stored_at: i64,
}

const ADD: &str = "INSERT INTO blob_upload_days (device_id, day, bytes) VALUES ($1, $2, $3)
     ON CONFLICT (device_id, day) DO UPDATE SET bytes = blob_upload_days.bytes + excluded.bytes
     WHERE blob_upload_days.bytes + excluded.bytes <= $4
     RETURNING bytes";
const TOTAL: &str = "SELECT bytes FROM blob_upload_days WHERE device_id = $1 AND day = $2";
const RECORD: &str =
    "INSERT INTO blobs (hash, bytes, uploaded_by, stored_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (hash) DO NOTHING";
const LIST: &str = "SELECT hash, bytes, uploaded_by, stored_at FROM blobs ORDER BY hash";
const FORGET: &str = "DELETE FROM blobs WHERE hash = $1";

/// SQLite spells parameters `?N`; the statements above are written once, for PostgreSQL.
fn sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Counts `bytes` against the device's budget of `day`: `Ok(total after)`, or
/// `Err(total before)` when that would pass `limit` (nothing is counted then).
pub fn sqlite_add(
    conn: &Connection,
    device: &str,
    day: i64,
    bytes: i64,
    limit: i64,
) -> AppResult<Result<i64, i64>> {
    let before = || -> AppResult<i64> {
        Ok(conn
            .prepare_cached(&sqlite(TOTAL))?
            .query_row(params![device, day], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    };
    if bytes > limit {
        return Ok(Err(before()?));
    }
    let after: Option<i64> = conn
        .prepare_cached(&sqlite(ADD))?
        .query_row(params![device, day, bytes, limit], |r| r.get(0))
        .optional()?;
    Ok(match after {
        Some(total) => Ok(total),
        None => Err(before()?),
    })
}

pub fn sqlite_record(conn: &Connection, blob: &BlobRecord) -> AppResult<()> {
    conn.prepare_cached(&sqlite(RECORD))?.execute(params![
        blob.hash,
        blob.bytes,
        blob.uploaded_by,
        blob.stored_at
    ])?;
    Ok(())
}

pub fn sqlite_list(conn: &Connection) -> AppResult<Vec<BlobRecord>> {
    let mut stmt = conn.prepare_cached(&sqlite(LIST))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(BlobRecord {
                hash: r.get(0)?,
                bytes: r.get(1)?,
                uploaded_by: r.get(2)?,
                stored_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn sqlite_forget(conn: &Connection, hash: &str) -> AppResult<()> {
    conn.prepare_cached(&sqlite(FORGET))?.execute([hash])?;
    Ok(())
}

pub fn postgres_add(
    client: &mut postgres::Client,
    device: &str,
    day: i64,
    bytes: i64,
    limit: i64,
) -> AppResult<Result<i64, i64>> {
    let before = |client: &mut postgres::Client| -> AppResult<i64> {
        Ok(client
            .query_opt(TOTAL, &[&device, &day])
            .map_err(crate::error::AppError::internal)?
            .map_or(0, |r| r.get(0)))
    };
    if bytes > limit {
        return Ok(Err(before(client)?));
    }
    let after = client
        .query_opt(ADD, &[&device, &day, &bytes, &limit])
        .map_err(crate::error::AppError::internal)?;
    Ok(match after {
        Some(row) => Ok(row.get(0)),
        None => Err(before(client)?),
    })
}

pub fn postgres_record(client: &mut postgres::Client, blob: &BlobRecord) -> AppResult<()> {
    client
        .execute(
            RECORD,
            &[&blob.hash, &blob.bytes, &blob.uploaded_by, &blob.stored_at],
        )
        .map_err(crate::error::AppError::internal)?;
    Ok(())
}

pub fn postgres_list(client: &mut postgres::Client) -> AppResult<Vec<BlobRecord>> {
    let rows = client
        .query(LIST, &[])
        .map_err(crate::error::AppError::internal)?;
    Ok(rows
        .into_iter()
        .map(|r| BlobRecord {
            hash: r.get(0),
            bytes: r.get(1),
            uploaded_by: r.get(2),
            stored_at: r.get(3),
        })
        .collect())
}

pub fn postgres_forget(client: &mut postgres::Client, hash: &str) -> AppResult<()> {
    client
        .execute(FORGET, &[&hash])
        .map_err(crate::error::AppError::internal)?;
    Ok(())
}
