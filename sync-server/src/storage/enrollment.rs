//! Enrollment codes, on both backends: an admin makes a code for a user, and a phone trades
//! it once, before it expires, for a device and its token. The backends' `SyncStorage`
//! methods are thin calls into these functions.

use fieldsync_core::{DocId, Role};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::DeviceInfo;
use crate::error::{AppError, AppResult};

fn no_user(user_id: &str) -> AppError {
    AppError::NotFound(format!("no user `{user_id}`"))
}

/// Why a code read from the database cannot enroll a device, if it cannot.
fn refusal(found: bool, used: bool, expires_at: i64, now: i64) -> Option<AppError> {
    let why = if !found {
        "unknown enrollment code"
    } else if used {
        "this enrollment code was used already"
    } else if expires_at <= now {
        "this enrollment code has expired"
    } else {
        return None;
    };
    Some(AppError::Unauthorized(why.into()))
}

pub fn sqlite_add_code(
    conn: &Connection,
    user_id: &str,
    code_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<()> {
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)",
        [user_id],
        |r| r.get(0),
    )?;
    if !known {
        return Err(no_user(user_id));
    }
    conn.execute(
        "INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![code_hash, user_id, now, expires_at],
    )?;
    Ok(())
}

pub fn postgres_add_code(
    client: &mut postgres::Client,
    user_id: &str,
    code_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<()> {
    let known: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)",
            &[&user_id],
        )?
        .get(0);
    if !known {
        return Err(no_user(user_id));
    }
    client.execute(
        "INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        &[&code_hash, &user_id, &now, &expires_at],
    )?;
    Ok(())
}

/// Trades a code for a new device with `token_hash`, in one transaction (the writer's
/// `IMMEDIATE` one: two phones with one code enroll one device).
pub fn sqlite_enroll(
    conn: &mut Connection,
    code_hash: &[u8],
    device_name: &str,
    token_hash: &[u8],
    now: i64,
) -> AppResult<DeviceInfo> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, String, i64, Option<i64>)> = tx
        .query_row(
            "SELECT c.user_id, u.role, c.expires_at, c.used_at FROM enrollment_codes c
             JOIN users u ON u.id = c.user_id WHERE c.code_hash = ?1",
            [code_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let found = row.is_some();
    let (user_id, role, expires_at, used_at) = row.unwrap_or_default();
    if let Some(refused) = refusal(found, used_at.is_some(), expires_at, now) {
        return Err(refused);
    }
    let device_id = DocId::new().to_string();
    // A new device holds no edit from before it existed: it is counted as told of every
    // store that left its user's scope so far (`scope_guard.rs`).
    tx.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at, handed)
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) FROM log))",
        params![device_id, user_id, device_name, token_hash, now],
    )?;
    tx.execute(
        "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
        params![code_hash, now, device_id],
    )?;
    tx.commit()?;
    Ok(DeviceInfo {
        device_id,
        user_id,
        role: Role::parse(&role)?,
    })
}

/// As [`sqlite_enroll`]; the code's row is locked (`FOR UPDATE`): two instances given the
/// same code at once enroll one device.
pub fn postgres_enroll(
    client: &mut postgres::Client,
    code_hash: &[u8],
    device_name: &str,
    token_hash: &[u8],
    now: i64,
) -> AppResult<DeviceInfo> {
    let mut tx = client.transaction()?;
    let row = tx.query_opt(
        "SELECT c.user_id, u.role, c.expires_at, c.used_at FROM enrollment_codes c
         JOIN users u ON u.id = c.user_id WHERE c.code_hash = $1 FOR UPDATE OF c",
        &[&code_hash],
    )?;
    let (user_id, role, expires_at, used_at): (String, String, i64, Option<i64>) = match &row {
        Some(r) => (r.get(0), r.get(1), r.get(2), r.get(3)),
        None => Default::default(),
    };
    if let Some(refused) = refusal(row.is_some(), used_at.is_some(), expires_at, now) {
        return Err(refused);
    }
    let device_id = DocId::new().to_string();
    // As in `sqlite_enroll`: a new device counts as told of every move so far.
    tx.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at, handed)
         VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(seq), 0)::bigint FROM log))",
        &[&device_id, &user_id, &device_name, &token_hash, &now],
    )?;
    tx.execute(
        "UPDATE enrollment_codes SET used_at = $2, device_id = $3 WHERE code_hash = $1",
        &[&code_hash, &now, &device_id],
    )?;
    tx.commit()?;
    Ok(DeviceInfo {
        device_id,
        user_id,
        role: Role::parse(&role)?,
    })
}
