//! The audit trail of admin actions and when devices were last seen, on both backends.
//! The backends' `SyncStorage` methods are thin calls into these functions.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::AppResult;

/// One admin action, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Milliseconds since the epoch, UTC.
    pub at: i64,
    /// Who ran it: the OS user running the command, or `--actor`.
    pub actor: String,
    /// `add-user`, `enroll-code`, `revoke`, `import-stores`, `reassign`, `calendar`; the
    /// console's `console-code`, `console-sign-in`, `console-refused`, `console-sign-out`.
    pub action: String,
    /// The user, device, store or file acted on.
    pub subject: String,
    pub detail: String,
}

/// How often a device's `last_seen_at` is written at most (a sync every few minutes would
/// otherwise write a row each time).
pub const LAST_SEEN_EVERY_MS: i64 = 3_600_000;

pub fn sqlite_record(conn: &Connection, e: &AuditEntry) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![e.at, e.actor, e.action, e.subject, e.detail])?;
    Ok(())
}

pub fn sqlite_since(conn: &Connection, since: i64) -> AppResult<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, actor, action, subject, detail FROM audit WHERE at >= ?1 ORDER BY at, id",
    )?;
    let rows = stmt
        .query_map([since], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                subject: r.get(3)?,
                detail: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn sqlite_touch(conn: &Connection, device: &str, now: i64) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE devices SET last_seen_at = ?2
         WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at <= ?2 - ?3)",
    )?
    .execute(params![device, now, LAST_SEEN_EVERY_MS])?;
    Ok(())
}

pub fn postgres_record(client: &mut postgres::Client, e: &AuditEntry) -> AppResult<()> {
    client.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&e.at, &e.actor, &e.action, &e.subject, &e.detail],
    )?;
    Ok(())
}

pub fn postgres_since(client: &mut postgres::Client, since: i64) -> AppResult<Vec<AuditEntry>> {
    Ok(client
        .query(
            "SELECT at, actor, action, subject, detail FROM audit WHERE at >= $1 ORDER BY at, id",
            &[&since],
        )?
        .iter()
        .map(|r| AuditEntry {
            at: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            subject: r.get(3),
            detail: r.get(4),
        })
        .collect())
}

pub fn postgres_touch(client: &mut postgres::Client, device: &str, now: i64) -> AppResult<()> {
    client.execute(
        "UPDATE devices SET last_seen_at = $2
         WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at <= $2::BIGINT - $3::BIGINT)",
        &[&device, &now, &LAST_SEEN_EVERY_MS],
    )?;
    Ok(())
}
