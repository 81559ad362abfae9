//! The feed, whatever the backend: a device's changes after its cursor, read from one
//! snapshot of the log.
//!
//! A backend opens a read-only snapshot (one transaction in which the end of the log and
//! every row read agree) and hands [`read`] a [`FeedTx`] over it. Because every backend
//! makes rows visible in cursor order (docs/protocol.md, "The cursor"), a feed that read to
//! the end of its snapshot may move the cursor to that end.

use std::collections::{HashMap, HashSet};

use fieldsync_core::Role;
use fieldsync_core::protocol::DocChanges;
use serde_bytes::ByteBuf;

use super::push::store_in_scope;
use super::{DeviceInfo, Feed};
use crate::error::{AppError, AppResult};

/// Rows read per query while filling a feed.
pub const PAGE: i64 = 2_000;

/// One row of the log as the feed reads it.
#[derive(Debug)]
pub enum LogRow {
    Change {
        seq: i64,
        doc: String,
        hash: String,
        bytes: Vec<u8>,
    },
    Scope {
        seq: i64,
        store: String,
        old_territory: Option<String>,
        new_territory: Option<String>,
        old_demo: Option<bool>,
        new_demo: Option<bool>,
    },
}

/// What [`read`] needs from a backend's read snapshot.
pub trait FeedTx {
    /// The cursor of the last row in the snapshot (0 when the log is empty).
    fn end(&mut self) -> AppResult<i64>;
    /// Up to `limit` rows with `after < seq <= upto`, oldest first: every scope row, and the
    /// change rows of documents in the device's scope (see [`scope_condition`]).
    fn page(
        &mut self,
        device: &DeviceInfo,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> AppResult<Vec<LogRow>>;
    /// Every change with `seq <= upto` of the documents about `store`, oldest first, as
    /// (document, hash, bytes).
    fn store_changes(
        &mut self,
        store: &str,
        upto: i64,
    ) -> AppResult<Vec<(String, String, Vec<u8>)>>;
    /// The documents about `store`, by id.
    fn store_documents(&mut self, store: &str) -> AppResult<Vec<String>>;
}

/// The SQL condition for "the document of row `d` (store `s`) is in scope of the user
/// bound as `user`" (`?3` in SQLite, `$3` in PostgreSQL), for a backend's [`FeedTx::page`].
pub fn scope_condition(role: Role, user: &str) -> String {
    match role {
        Role::AccountManager => format!("(s.territory = {user} OR d.manager = {user})"),
        Role::MarketTeam => format!("(s.demo_street AND {user} IS NOT NULL)"),
        Role::Supervisor | Role::Admin => format!("({user} IS NOT NULL)"),
    }
}

/// Changes in the device's scope after `cursor`, up to about `max_bytes`, except those in
/// `just_pushed`, and the documents that left its scope.
pub fn read(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    cursor: u64,
    max_bytes: usize,
    just_pushed: &HashSet<String>,
) -> AppResult<Feed> {
    let end = tx.end()?;
    let cursor =
        i64::try_from(cursor).map_err(|_| AppError::BadRequest("cursor is out of range".into()))?;
    if cursor > end {
        return Err(AppError::Conflict(format!(
            "cursor `{cursor}` is ahead of this server (at `{end}`): sync again from the start"
        )));
    }
    let mut feed = Feed {
        cursor: cursor as u64,
        ..Feed::default()
    };
    let mut out = Changes::default();
    let mut position = cursor;
    // Bounded: each page advances `position`, and the loop stops at the end of the snapshot.
    loop {
        let rows = tx.page(device, position, end, PAGE)?;
        let page_len = rows.len() as i64;
        for row in rows {
            if out.bytes >= max_bytes && !out.changes.is_empty() {
                feed.changes = out.changes;
                feed.more = true;
                return Ok(feed);
            }
            let seq = match row {
                LogRow::Change {
                    seq,
                    doc,
                    hash,
                    bytes,
                } => {
                    // The device's own changes come back only when it lacks them (its
                    // cursor is behind them: restored from a backup); never the ones it
                    // just sent.
                    if !just_pushed.contains(&hash) {
                        out.push(doc, bytes);
                    }
                    seq
                }
                LogRow::Scope {
                    seq,
                    store,
                    old_territory,
                    new_territory,
                    old_demo,
                    new_demo,
                } => {
                    let was = store_in_scope(
                        device,
                        old_territory.as_deref().unwrap_or_default(),
                        old_demo.unwrap_or(false),
                    );
                    let is = store_in_scope(
                        device,
                        new_territory.as_deref().unwrap_or_default(),
                        new_demo.unwrap_or(false),
                    );
                    if is && !was {
                        for (doc, hash, bytes) in tx.store_changes(&store, seq)? {
                            if !just_pushed.contains(&hash) {
                                out.push(doc, bytes);
                            }
                        }
                    } else if was && !is {
                        feed.removed.extend(tx.store_documents(&store)?);
                    }
                    seq
                }
            };
            feed.cursor = seq as u64;
            position = seq;
        }
        if page_len < PAGE {
            // Everything up to the end of the snapshot was read: rows not in scope need not
            // be read again by the next sync.
            feed.cursor = end as u64;
            feed.changes = out.changes;
            return Ok(feed);
        }
    }
}

/// Changes grouped by document in the order documents first appear.
#[derive(Default)]
struct Changes {
    changes: Vec<DocChanges>,
    by_doc: HashMap<String, usize>,
    bytes: usize,
}

impl Changes {
    fn push(&mut self, doc: String, change: Vec<u8>) {
        self.bytes += change.len();
        let changes = &mut self.changes;
        let index = *self.by_doc.entry(doc.clone()).or_insert_with(|| {
            changes.push(DocChanges {
                doc,
                changes: Vec::new(),
            });
            changes.len() - 1
        });
        if let Some(entry) = self.changes.get_mut(index) {
            entry.changes.push(ByteBuf::from(change));
        }
    }
}
