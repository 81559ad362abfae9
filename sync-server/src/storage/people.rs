//! Users and their devices, on both backends: who a token belongs to, the users an admin
//! adds, the devices enrolled or revoked. The backends' `SyncStorage` methods are thin
//! calls into these functions; enrolling with a code is `enrollment.rs`.

use fieldsync_core::Role;
use rusqlite::{Connection, OptionalExtension, params};

use super::{DeviceInfo, DeviceRecord, User};
use crate::error::{AppError, AppResult};

/// The device and user a token's hash names: the current token until it expires, the
/// previous one (after a rotation) until its own expiry; never a revoked device's.
const AUTHENTICATE_SQLITE: &str =
    "SELECT d.id, u.id, u.role FROM devices d JOIN users u ON u.id = d.user_id
     WHERE ((d.token_hash = ?1 AND (d.token_expires_at IS NULL OR d.token_expires_at > ?2))
            OR (d.previous_token_hash = ?1 AND d.previous_token_expires_at > ?2))
     AND d.revoked_at IS NULL";
const AUTHENTICATE_POSTGRES: &str =
    "SELECT d.id, u.id, u.role FROM devices d JOIN users u ON u.id = d.user_id
     WHERE ((d.token_hash = $1 AND (d.token_expires_at IS NULL OR d.token_expires_at > $2))
            OR (d.previous_token_hash = $1 AND d.previous_token_expires_at > $2))
     AND d.revoked_at IS NULL";

const DEVICES: &str = "SELECT id, user_id, name, enrolled_at, revoked_at, last_seen_at FROM devices
     ORDER BY enrolled_at, id";

fn device_info(device_id: String, user_id: String, role: &str) -> AppResult<DeviceInfo> {
    Ok(DeviceInfo {
        device_id,
        user_id,
        role: Role::parse(role)?,
    })
}

fn user(id: String, role: &str, name: String) -> AppResult<User> {
    Ok(User {
        id,
        role: Role::parse(role)?,
        name,
    })
}

fn exists_already(user: &User) -> AppError {
    AppError::Conflict(format!("user `{}` exists already", user.id))
}

pub fn sqlite_authenticate(conn: &Connection, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached(AUTHENTICATE_SQLITE)?
        .query_row(
            params![token_hash, chrono::Utc::now().timestamp_millis()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(device, user, role)| device_info(device, user, &role))
        .transpose()
}

pub fn postgres_authenticate(
    client: &mut postgres::Client,
    token_hash: &[u8],
) -> AppResult<Option<DeviceInfo>> {
    client
        .query_opt(
            AUTHENTICATE_POSTGRES,
            &[&token_hash, &chrono::Utc::now().timestamp_millis()],
        )?
        .map(|r| device_info(r.get(0), r.get(1), r.get(2)))
        .transpose()
}

pub fn sqlite_add_user(conn: &Connection, user: &User, now: i64) -> AppResult<()> {
    let inserted = conn.execute(
        "INSERT INTO users (id, role, name, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        params![user.id, user.role.code(), user.name, now],
    )?;
    if inserted == 0 {
        return Err(exists_already(user));
    }
    Ok(())
}

pub fn postgres_add_user(client: &mut postgres::Client, user: &User, now: i64) -> AppResult<()> {
    let inserted = client.execute(
        "INSERT INTO users (id, role, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        &[&user.id, &user.role.code(), &user.name, &now],
    )?;
    if inserted == 0 {
        return Err(exists_already(user));
    }
    Ok(())
}

pub fn sqlite_user(conn: &Connection, id: &str) -> AppResult<Option<User>> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT id, role, name FROM users WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(id, role, name)| user(id, &role, name))
        .transpose()
}

pub fn postgres_user(client: &mut postgres::Client, id: &str) -> AppResult<Option<User>> {
    client
        .query_opt("SELECT id, role, name FROM users WHERE id = $1", &[&id])?
        .map(|r| user(r.get(0), r.get(1), r.get(2)))
        .transpose()
}

pub fn sqlite_users(conn: &Connection) -> AppResult<Vec<User>> {
    let mut stmt = conn.prepare("SELECT id, role, name FROM users ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, role, name)| user(id, &role, name))
        .collect()
}

pub fn postgres_users(client: &mut postgres::Client) -> AppResult<Vec<User>> {
    client
        .query("SELECT id, role, name FROM users ORDER BY id", &[])?
        .iter()
        .map(|r| user(r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Revokes a device (its first revocation time is kept); false when there is no such device.
pub fn sqlite_revoke_device(conn: &Connection, device_id: &str, now: i64) -> AppResult<bool> {
    let n = conn.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![device_id, now],
    )?;
    Ok(n > 0)
}

pub fn postgres_revoke_device(
    client: &mut postgres::Client,
    device_id: &str,
    now: i64,
) -> AppResult<bool> {
    let n = client.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        &[&device_id, &now],
    )?;
    Ok(n > 0)
}

/// Adds a device with a token (an admin's own device), or gives an existing one a new
/// token and lifts its revocation.
pub fn sqlite_add_device(
    conn: &Connection,
    device: &DeviceInfo,
    name: &str,
    token_hash: &[u8],
    now: i64,
) -> AppResult<()> {
    conn.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL",
        params![device.device_id, device.user_id, name, token_hash, now],
    )?;
    Ok(())
}

pub fn postgres_add_device(
    client: &mut postgres::Client,
    device: &DeviceInfo,
    name: &str,
    token_hash: &[u8],
    now: i64,
) -> AppResult<()> {
    client.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL",
        &[&device.device_id, &device.user_id, &name, &token_hash, &now],
    )?;
    Ok(())
}

pub fn sqlite_devices(conn: &Connection) -> AppResult<Vec<DeviceRecord>> {
    let mut stmt = conn.prepare(DEVICES)?;
    Ok(stmt
        .query_map([], |r| {
            Ok(DeviceRecord {
                device_id: r.get(0)?,
                user_id: r.get(1)?,
                name: r.get(2)?,
                enrolled_at: r.get(3)?,
                revoked_at: r.get(4)?,
                last_seen_at: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn postgres_devices(client: &mut postgres::Client) -> AppResult<Vec<DeviceRecord>> {
    Ok(client
        .query(DEVICES, &[])?
        .iter()
        .map(|r| DeviceRecord {
            device_id: r.get(0),
            user_id: r.get(1),
            name: r.get(2),
            enrolled_at: r.get(3),
            revoked_at: r.get(4),
            last_seen_at: r.get(5),
        })
        .collect())
}
