//! The supervision console's one-time sign-in codes and sessions, on both backends (the
//! backends' `SyncStorage` methods are thin calls into these functions).
//!
//! A code is traded once: the statement that marks it used is the one that finds it, so
//! two sign-ins racing with one code cannot both win. Sessions are looked up by the hash of
//! the cookie's value; an expired or ended session is as good as none.

use fieldsync_core::Role;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::AppResult;

/// A session to open when a code is traded: the hash of its cookie, its CSRF token, and
/// when it opens and expires.
#[derive(Clone, Copy, Debug)]
pub struct NewSession<'a> {
    pub hash: &'a [u8],
    pub csrf: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// What trading a code gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The code is unknown, used, voided or expired.
    NoCode,
    /// The code was good (and is now used), but its user may not open the console.
    Refused { user: String, role: Role },
    /// A session is open for the user.
    Opened { user: String },
}

/// A live console session, as the routes see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSession {
    pub user_id: String,
    /// The token every form of this session carries (checked on each POST).
    pub csrf: String,
    pub expires_at: i64,
}

pub fn sqlite_add_code(
    conn: &Connection,
    user: &str,
    code_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO console_codes (code_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![code_hash, user, now, expires_at])?;
    Ok(())
}

pub fn sqlite_take_code(
    conn: &Connection,
    code_hash: &[u8],
    now: i64,
) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "UPDATE console_codes SET used_at = ?2
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING user_id",
        )?
        .query_row(params![code_hash, now], |r| r.get(0))
        .optional()?)
}

pub fn sqlite_add_session(conn: &Connection, user: &str, session: NewSession<'_>) -> AppResult<()> {
    let NewSession {
        hash,
        csrf,
        now,
        expires_at,
    } = session;
    conn.prepare_cached(
        "INSERT INTO console_sessions (session_hash, user_id, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![hash, user, csrf, now, expires_at])?;
    // Expired sessions are of no use to anyone: a sign-in sweeps them.
    conn.prepare_cached("DELETE FROM console_sessions WHERE expires_at < ?1")?
        .execute([now])?;
    Ok(())
}

/// Trades a code for a session in one transaction (`IMMEDIATE`): a revocation
/// (`sqlite_end_access`) runs wholly before it, and then the code is void, or wholly after
/// it, and then it ends the session.
pub fn sqlite_open_session(
    conn: &mut Connection,
    code_hash: &[u8],
    session: NewSession<'_>,
    may_open: fn(Role) -> bool,
) -> AppResult<SignIn> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(user) = sqlite_take_code(&tx, code_hash, session.now)? else {
        return Ok(SignIn::NoCode);
    };
    let role: String = tx.query_row("SELECT role FROM users WHERE id = ?1", [&user], |r| {
        r.get(0)
    })?;
    let signed_in = opened(&user, Role::parse(&role)?, may_open);
    if matches!(signed_in, SignIn::Opened { .. }) {
        sqlite_add_session(&tx, &user, session)?;
    }
    tx.commit()?;
    Ok(signed_in)
}

fn opened(user: &str, role: Role, may_open: fn(Role) -> bool) -> SignIn {
    if may_open(role) {
        SignIn::Opened { user: user.into() }
    } else {
        SignIn::Refused {
            user: user.into(),
            role,
        }
    }
}

pub fn sqlite_session(
    conn: &Connection,
    session_hash: &[u8],
    now: i64,
) -> AppResult<Option<ConsoleSession>> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, csrf, expires_at FROM console_sessions
             WHERE session_hash = ?1 AND ended_at IS NULL AND expires_at > ?2",
        )?
        .query_row(params![session_hash, now], |r| {
            Ok(ConsoleSession {
                user_id: r.get(0)?,
                csrf: r.get(1)?,
                expires_at: r.get(2)?,
            })
        })
        .optional()?)
}

pub fn sqlite_end_session(conn: &Connection, session_hash: &[u8], now: i64) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE console_sessions SET ended_at = ?2
             WHERE session_hash = ?1 AND ended_at IS NULL",
        )?
        .execute(params![session_hash, now])?
        > 0)
}

/// What ending a user's console access did: live sessions ended, unused codes voided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessEnded {
    pub sessions: u64,
    pub codes: u64,
}

/// Ends every session of `user_id` not ended yet and voids every unused code (marked used,
/// as a traded one is): a lost laptop, a leaked code. One transaction. Expired ones are
/// ended too: their expiry is the server's clock, and this may run on another host.
pub fn sqlite_end_access(conn: &mut Connection, user_id: &str, now: i64) -> AppResult<AccessEnded> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Codes first: a sign-in trading one meanwhile either finds it void or has opened its
    // session already (see `sqlite_open_session`).
    let codes = tx.execute(
        "UPDATE console_codes SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user_id, now],
    )?;
    let sessions = tx.execute(
        "UPDATE console_sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
        params![user_id, now],
    )?;
    tx.commit()?;
    Ok(AccessEnded {
        sessions: sessions as u64,
        codes: codes as u64,
    })
}

pub fn postgres_add_code(
    client: &mut postgres::Client,
    user: &str,
    code_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<()> {
    client.execute(
        "INSERT INTO console_codes (code_hash, user_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[&code_hash, &user, &now, &expires_at],
    )?;
    Ok(())
}

pub fn postgres_take_code(
    client: &mut impl postgres::GenericClient,
    code_hash: &[u8],
    now: i64,
) -> AppResult<Option<String>> {
    Ok(client
        .query_opt(
            "UPDATE console_codes SET used_at = $2
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING user_id",
            &[&code_hash, &now],
        )?
        .map(|r| r.get(0)))
}

pub fn postgres_add_session(
    client: &mut impl postgres::GenericClient,
    user: &str,
    session: NewSession<'_>,
) -> AppResult<()> {
    let NewSession {
        hash,
        csrf,
        now,
        expires_at,
    } = session;
    client.execute(
        "INSERT INTO console_sessions (session_hash, user_id, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&hash, &user, &csrf, &now, &expires_at],
    )?;
    client.execute(
        "DELETE FROM console_sessions WHERE expires_at < $1",
        &[&now],
    )?;
    Ok(())
}

/// As [`sqlite_open_session`]. Under PostgreSQL's read-committed isolation a revocation
/// that voids the code first makes this transaction's `UPDATE` of it wait, then find it
/// used; one that comes after sees the session this one committed, and ends it.
pub fn postgres_open_session(
    client: &mut postgres::Client,
    code_hash: &[u8],
    session: NewSession<'_>,
    may_open: fn(Role) -> bool,
) -> AppResult<SignIn> {
    let mut tx = client.transaction()?;
    let Some(user) = postgres_take_code(&mut tx, code_hash, session.now)? else {
        return Ok(SignIn::NoCode);
    };
    let role: String = tx
        .query_one("SELECT role FROM users WHERE id = $1", &[&user])?
        .get(0);
    let signed_in = opened(&user, Role::parse(&role)?, may_open);
    if matches!(signed_in, SignIn::Opened { .. }) {
        postgres_add_session(&mut tx, &user, session)?;
    }
    tx.commit()?;
    Ok(signed_in)
}

pub fn postgres_session(
    client: &mut postgres::Client,
    session_hash: &[u8],
    now: i64,
) -> AppResult<Option<ConsoleSession>> {
    Ok(client
        .query_opt(
            "SELECT user_id, csrf, expires_at FROM console_sessions
             WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2",
            &[&session_hash, &now],
        )?
        .map(|r| ConsoleSession {
            user_id: r.get(0),
            csrf: r.get(1),
            expires_at: r.get(2),
        }))
}

pub fn postgres_end_session(
    client: &mut postgres::Client,
    session_hash: &[u8],
    now: i64,
) -> AppResult<bool> {
    Ok(client.execute(
        "UPDATE console_sessions SET ended_at = $2 WHERE session_hash = $1 AND ended_at IS NULL",
        &[&session_hash, &now],
    )? > 0)
}

pub fn postgres_end_access(
    client: &mut postgres::Client,
    user_id: &str,
    now: i64,
) -> AppResult<AccessEnded> {
    let mut tx = client.transaction()?;
    // Codes first, as on SQLite (see `postgres_open_session`).
    let codes = tx.execute(
        "UPDATE console_codes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        &[&user_id, &now],
    )?;
    let sessions = tx.execute(
        "UPDATE console_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
        &[&user_id, &now],
    )?;
    tx.commit()?;
    Ok(AccessEnded { sessions, codes })
}
