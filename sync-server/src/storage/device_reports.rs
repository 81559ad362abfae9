//! What each device last said about itself (the device report of its sync requests,
//! docs/protocol.md) and how many of its documents the server refused, on both backends,
//! for the console's fleet page. Display only: nothing that decides what is stored or sent
//! reads these rows.

use fieldsync_core::protocol::DeviceReport;
use rusqlite::{Connection, params};

use crate::error::AppResult;

/// A device's latest report as stored, with the drift the server computed from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device_id: String,
    /// When the request carrying the report arrived (server time, ms).
    pub received_at: i64,
    /// The request's protocol version.
    pub protocol: i64,
    pub app_version: Option<String>,
    pub pending_edits: Option<i64>,
    pub pending_documents: Option<i64>,
    /// As the phone counts them.
    pub rejected_documents: Option<i64>,
    pub device_time: Option<i64>,
    /// `device_time - received_at`: positive when the phone's clock is ahead.
    pub drift_ms: Option<i64>,
    /// Documents the server refused this device, in all.
    pub refused_documents: i64,
    pub last_refused_at: Option<i64>,
}

impl DeviceStatus {
    /// The row for `report`, received from `device_id` at `received_at` in a request of
    /// `protocol`.
    pub fn of(
        device_id: &str,
        protocol: u32,
        report: Option<&DeviceReport>,
        received_at: i64,
    ) -> DeviceStatus {
        let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let device_time = report.and_then(|r| r.device_time);
        DeviceStatus {
            device_id: device_id.to_owned(),
            received_at,
            protocol: i64::from(protocol),
            app_version: report.and_then(|r| r.app_version.clone()),
            pending_edits: count(report.and_then(|r| r.pending_edits)),
            pending_documents: count(report.and_then(|r| r.pending_documents)),
            rejected_documents: count(report.and_then(|r| r.rejected_documents)),
            device_time,
            drift_ms: device_time.map(|t| t.saturating_sub(received_at)),
            refused_documents: 0,
            last_refused_at: None,
        }
    }
}

const UPSERT_SQLITE: &str = "INSERT INTO device_reports (device_id, received_at, protocol,
       app_version, pending_edits, pending_documents, rejected_documents, device_time, drift_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (device_id) DO UPDATE SET received_at = excluded.received_at,
       protocol = excluded.protocol, app_version = excluded.app_version,
       pending_edits = excluded.pending_edits, pending_documents = excluded.pending_documents,
       rejected_documents = excluded.rejected_documents, device_time = excluded.device_time,
       drift_ms = excluded.drift_ms";

const REFUSED_SQLITE: &str = "INSERT INTO device_reports (device_id, received_at, protocol,
       refused_documents, last_refused_at) VALUES (?1, ?2, ?3, ?4, ?2)
     ON CONFLICT (device_id) DO UPDATE SET
       refused_documents = device_reports.refused_documents + excluded.refused_documents,
       last_refused_at = excluded.last_refused_at";

const SELECT: &str = "SELECT device_id, received_at, protocol, app_version, pending_edits,
       pending_documents, rejected_documents, device_time, drift_ms, refused_documents,
       last_refused_at
     FROM device_reports ORDER BY device_id";

pub fn sqlite_record(conn: &Connection, s: &DeviceStatus) -> AppResult<()> {
    conn.prepare_cached(UPSERT_SQLITE)?.execute(params![
        s.device_id,
        s.received_at,
        s.protocol,
        s.app_version,
        s.pending_edits,
        s.pending_documents,
        s.rejected_documents,
        s.device_time,
        s.drift_ms
    ])?;
    Ok(())
}

pub fn sqlite_refused(
    conn: &Connection,
    device: &str,
    protocol: u32,
    documents: i64,
    now: i64,
) -> AppResult<()> {
    conn.prepare_cached(REFUSED_SQLITE)?
        .execute(params![device, now, protocol, documents])?;
    Ok(())
}

pub fn sqlite_all(conn: &Connection) -> AppResult<Vec<DeviceStatus>> {
    let mut stmt = conn.prepare_cached(SELECT)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(DeviceStatus {
                device_id: r.get(0)?,
                received_at: r.get(1)?,
                protocol: r.get(2)?,
                app_version: r.get(3)?,
                pending_edits: r.get(4)?,
                pending_documents: r.get(5)?,
                rejected_documents: r.get(6)?,
                device_time: r.get(7)?,
                drift_ms: r.get(8)?,
                refused_documents: r.get(9)?,
                last_refused_at: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn postgres_record(client: &mut postgres::Client, s: &DeviceStatus) -> AppResult<()> {
    let protocol = i32::try_from(s.protocol).unwrap_or(i32::MAX);
    client.execute(
        "INSERT INTO device_reports (device_id, received_at, protocol, app_version,
           pending_edits, pending_documents, rejected_documents, device_time, drift_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (device_id) DO UPDATE SET received_at = excluded.received_at,
           protocol = excluded.protocol, app_version = excluded.app_version,
           pending_edits = excluded.pending_edits,
           pending_documents = excluded.pending_documents,
           rejected_documents = excluded.rejected_documents,
           device_time = excluded.device_time, drift_ms = excluded.drift_ms",
        &[
            &s.device_id,
            &s.received_at,
            &protocol,
            &s.app_version,
            &s.pending_edits,
            &s.pending_documents,
            &s.rejected_documents,
            &s.device_time,
            &s.drift_ms,
        ],
    )?;
    Ok(())
}

pub fn postgres_refused(
    client: &mut postgres::Client,
    device: &str,
    protocol: u32,
    documents: i64,
    now: i64,
) -> AppResult<()> {
    let protocol = i32::try_from(protocol).unwrap_or(i32::MAX);
    client.execute(
        "INSERT INTO device_reports (device_id, received_at, protocol, refused_documents,
           last_refused_at) VALUES ($1, $2, $3, $4, $2)
         ON CONFLICT (device_id) DO UPDATE SET
           refused_documents = device_reports.refused_documents + excluded.refused_documents,
           last_refused_at = excluded.last_refused_at",
        &[&device, &now, &protocol, &documents],
    )?;
    Ok(())
}

pub fn postgres_all(client: &mut postgres::Client) -> AppResult<Vec<DeviceStatus>> {
    Ok(client
        .query(SELECT, &[])?
        .iter()
        .map(|r| DeviceStatus {
            device_id: r.get(0),
            received_at: r.get(1),
            protocol: i64::from(r.get::<_, i32>(2)),
            app_version: r.get(3),
            pending_edits: r.get(4),
            pending_documents: r.get(5),
            rejected_documents: r.get(6),
            device_time: r.get(7),
            drift_ms: r.get(8),
            refused_documents: r.get(9),
            last_refused_at: r.get(10),
        })
        .collect())
}
