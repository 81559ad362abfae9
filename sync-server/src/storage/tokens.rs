//! Device tokens that expire and are rotated through sync, on both backends
//! (docs/adr/0015-token-expiry-and-rotation.md). The backends' `SyncStorage` methods call
//! these functions.
//!
//! A device holds one token; the server stores its hash and, after a rotation, the hash
//! of the one before, accepted until its own expiry or until a sync presents the new one
//! (the device has it then). Authentication accepts either; a sync whose token is due (half
//! its lifetime gone, or presented as the previous one) gets a new token in its answer.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::AppResult;

/// Where a presented token stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    /// When the presented token was issued (the enrollment for tokens from before expiry).
    pub issued_at: i64,
    /// Whether it is the token a rotation replaced (its answer may have been lost).
    pub previous: bool,
    /// Whether the device has a previous token (which a sync with the current one retires).
    pub has_previous: bool,
    /// The hash of the device's current token: the only one a rotation by this request may
    /// replace.
    pub current: Vec<u8>,
}

pub fn sqlite_status(
    conn: &Connection,
    device: &str,
    token_hash: &[u8],
) -> AppResult<Option<TokenStatus>> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(token_issued_at, enrolled_at), token_hash = ?2, previous_token_hash IS NOT NULL,
                 token_hash
             FROM devices WHERE id = ?1",
        )?
        .query_row(params![device, token_hash], |r| {
            Ok(TokenStatus {
                issued_at: r.get(0)?,
                previous: !r.get::<_, bool>(1)?,
                has_previous: r.get(2)?,
                current: r.get(3)?,
            })
        })
        .optional()?)
}

/// Replaces the device's token by `new_hash` (valid until `expires_at`), if its current
/// token is still `replacing`, the one the request saw when it began. When the current
/// token was presented it becomes the previous one (valid until its own expiry, or for
/// as long as the new one if it had none); when the previous one was presented (the device never got
/// the current one), only the current one is replaced. A sync never replaces a token
/// issued after it began (to its retry, after the device gave up on it, or to another sync
/// of the device's): it compares tokens, not the clocks of the servers that issued them.
/// False when nothing was replaced (the presented token is neither current nor previous,
/// or the current one is not the one the request saw): then no token may be handed out.
pub fn sqlite_rotate(
    conn: &Connection,
    device: &str,
    presented: &[u8],
    replacing: &[u8],
    new_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<bool> {
    // A token that had no expiry is kept, once replaced, for one lifetime from now.
    let grace_ms = expires_at - now;
    Ok(conn.prepare_cached(
        "UPDATE devices SET
             previous_token_expires_at = CASE WHEN token_hash = ?2
                 THEN COALESCE(token_expires_at, ?5 + ?7) ELSE previous_token_expires_at END,
             previous_token_hash = CASE WHEN token_hash = ?2 THEN token_hash ELSE previous_token_hash END,
             token_hash = ?4, token_issued_at = ?5, token_expires_at = ?6
         WHERE id = ?1 AND token_hash = ?3 AND (token_hash = ?2 OR previous_token_hash = ?2)",
    )?
    .execute(params![device, presented, replacing, new_hash, now, expires_at, grace_ms])?
        > 0)
}

/// Forgets the device's previous token once `current` (its current one) was presented: the
/// device has its new token, so the one it replaced is needed no more, and in other hands
/// would mint tokens of its own and lock the device out. False when there was nothing to
/// forget (no previous token, or `current` is not current any more).
pub fn sqlite_retire_previous(conn: &Connection, device: &str, current: &[u8]) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE devices SET previous_token_hash = NULL, previous_token_expires_at = NULL
             WHERE id = ?1 AND token_hash = ?2 AND previous_token_hash IS NOT NULL",
        )?
        .execute(params![device, current])?
        > 0)
}

pub fn postgres_retire_previous(
    client: &mut postgres::Client,
    device: &str,
    current: &[u8],
) -> AppResult<bool> {
    Ok(client.execute(
        "UPDATE devices SET previous_token_hash = NULL, previous_token_expires_at = NULL
         WHERE id = $1 AND token_hash = $2 AND previous_token_hash IS NOT NULL",
        &[&device, &current],
    )? > 0)
}

pub fn postgres_status(
    client: &mut postgres::Client,
    device: &str,
    token_hash: &[u8],
) -> AppResult<Option<TokenStatus>> {
    Ok(client
        .query_opt(
            "SELECT COALESCE(token_issued_at, enrolled_at), token_hash = $2, previous_token_hash IS NOT NULL,
                 token_hash
             FROM devices WHERE id = $1",
            &[&device, &token_hash],
        )?
        .map(|r| TokenStatus {
            issued_at: r.get(0),
            previous: !r.get::<_, bool>(1),
            has_previous: r.get(2),
            current: r.get(3),
        }))
}

/// [`sqlite_rotate`] on PostgreSQL: one statement, whose `WHERE` PostgreSQL checks again
/// on the row as a concurrent rotation or retirement left it (READ COMMITTED), so that of
/// two syncs that saw the same current token, one replaces it and the other matches nothing.
pub fn postgres_rotate(
    client: &mut postgres::Client,
    device: &str,
    presented: &[u8],
    replacing: &[u8],
    new_hash: &[u8],
    now: i64,
    expires_at: i64,
) -> AppResult<bool> {
    // A token that had no expiry is kept, once replaced, for one lifetime from now.
    let grace_ms = expires_at - now;
    Ok(client.execute(
        "UPDATE devices SET
             previous_token_expires_at = CASE WHEN token_hash = $2
                 THEN COALESCE(token_expires_at, $5::BIGINT + $7::BIGINT) ELSE previous_token_expires_at END,
             previous_token_hash = CASE WHEN token_hash = $2 THEN token_hash ELSE previous_token_hash END,
             token_hash = $4, token_issued_at = $5, token_expires_at = $6
         WHERE id = $1 AND token_hash = $3 AND (token_hash = $2 OR previous_token_hash = $2)",
        &[&device, &presented, &replacing, &new_hash, &now, &expires_at, &grace_ms],
    )? > 0)
}
