//! The phone's own photos that cannot be sent (`photo_blocked`, migration 015): the server
//! refused them through the document the upload named (its store left the device's scope,
//! another user attached the same picture first: ADR 0041), or their file cannot be read.
//! A blocked photo leaves the upload queue, so that a document kept on the phone only for
//! its photos may go and the photos' progress completes (each photo is uploaded or
//! blocked); its file and its rows stay, listed with the reason by
//! [`LocalStore::blocked_photos`], until [`LocalStore::retry_blocked_photos`] queues it
//! again (after the office moved the store back, say). Nothing saved is dropped.

use std::path::PathBuf;

use rusqlite::params;

use super::LocalStore;
use crate::error::Result;

/// An own photo or thumbnail the upload passes no longer try, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedPhoto {
    pub hash: String,
    pub thumbnail: bool,
    /// Why it cannot be sent: the server's refusal, or what reading its file said.
    pub reason: String,
    /// When it was blocked, by the store's clock (ms since the epoch).
    pub at: i64,
    /// Every document of this phone that referenced it (some may have left the phone).
    pub docs: Vec<String>,
    /// Its file on the phone (absent when that is why it is blocked).
    pub path: PathBuf,
}

impl LocalStore {
    /// Takes the own photo `hash` out of the upload queue with `reason` (the upload pass
    /// calls it when the server refuses it for good, or its file cannot be read). A
    /// document kept on the phone only for its photos may then go.
    pub fn block_photo(&self, hash: &str, reason: &str) -> Result<()> {
        let inner = self.lock()?;
        let now = (inner.clock)().0;
        inner
            .conn
            .prepare_cached(
                "INSERT INTO photo_blocked (hash, reason, at)
                 SELECT hash, ?2, ?3 FROM photo_files WHERE hash = ?1 AND own = 1 AND uploaded = 0
                 ON CONFLICT (hash) DO UPDATE SET reason = excluded.reason, at = excluded.at",
            )?
            .execute(params![hash, reason, now])?;
        Ok(())
    }

    /// The own photos and thumbnails that cannot be sent, oldest first, with why.
    pub fn blocked_photos(&self) -> Result<Vec<BlockedPhoto>> {
        let folder = self.photo_folder();
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT b.hash, f.role, b.reason, b.at,
                        (SELECT group_concat(d.doc_id) FROM photo_docs d WHERE d.hash = b.hash)
                 FROM photo_blocked b JOIN photo_files f ON f.hash = b.hash
                 WHERE f.uploaded = 0 ORDER BY f.added_at, b.hash",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(hash, role, reason, at, docs)| {
                let docs = docs
                    .map(|d| super::photos::doc_list(&d))
                    .unwrap_or_default();
                Ok(BlockedPhoto {
                    path: folder.path_of(&hash)?,
                    hash,
                    thumbnail: role == "thumb",
                    reason,
                    at,
                    docs,
                })
            })
            .collect()
    }

    /// Puts every blocked photo back in the upload queue (the next pass asks the server
    /// again); returns how many.
    pub fn retry_blocked_photos(&self) -> Result<usize> {
        let inner = self.lock()?;
        Ok(inner.conn.execute("DELETE FROM photo_blocked", [])?)
    }
}
