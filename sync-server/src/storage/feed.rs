//! The feed, whatever the backend: a device's changes after its cursor, read from one
//! snapshot of the log.
//!
//! A backend opens a read-only snapshot (one transaction in which the end of the log and
//! every row read agree) and hands [`read`] a [`FeedTx`] over it. Because every backend
//! makes rows visible in cursor order (docs/protocol.md, "The cursor"), a feed that read to
//! the end of its snapshot may move the cursor to that end.

use std::collections::{HashMap, HashSet};

use fieldsync_core::Role;
use fieldsync_core::protocol::{DocChanges, FeedCursor, Part, WorkingSet};
use serde_bytes::ByteBuf;

use self::left::{left_before, moved, tell_what_left};
use self::let_go::left_window;
use self::log::read_log;
use self::pass::{pass_of, read_pass};
use super::{DeviceInfo, Feed};
use crate::error::{AppError, AppResult};

mod left;
mod let_go;
mod log;
mod pass;

pub use pass::{PassPart, part_condition, scope_ids, window_condition};

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
        /// The store the document is about, if any.
        store: Option<String>,
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

/// One change as [`FeedTx::documents_changes`] reads it: (document, position in the log,
/// hash, bytes).
pub type ChangeRow = (String, i64, String, Vec<u8>);

/// What [`read`] needs from a backend's read snapshot.
pub trait FeedTx {
    /// The cursor of the last row in the snapshot (0 when the log is empty).
    fn end(&mut self) -> AppResult<i64>;
    /// Up to `limit` rows with `after < seq <= upto`, oldest first: every scope row, and the
    /// change rows of documents in the device's scope (see [`scope_condition`]) and in its
    /// working set from `floor` (see [`window_condition`]).
    fn page(
        &mut self,
        device: &DeviceInfo,
        after: i64,
        upto: i64,
        limit: i64,
        floor: i64,
    ) -> AppResult<Vec<LogRow>>;
    /// Every change with `seq <= upto` of the documents about `store` in a working set
    /// from `floor`, oldest first, as (document, hash, bytes).
    fn store_changes(
        &mut self,
        store: &str,
        upto: i64,
        floor: i64,
    ) -> AppResult<Vec<(String, String, Vec<u8>)>>;
    /// Up to `limit` visits and counts in the device's scope that happened at or after
    /// `from` and before `floor`, as (document, when it happened), in that order then by id.
    fn left_window(
        &mut self,
        device: &DeviceInfo,
        from: i64,
        floor: i64,
        limit: i64,
    ) -> AppResult<Vec<(String, i64)>>;
    /// The documents about `store` that had a change at or before log position `upto` or
    /// a change `device` sent, by id: what the device could have held when the store left
    /// its scope at `upto` (with what it delivered since, made before it was told).
    fn store_documents(&mut self, store: &str, upto: i64, device: &str) -> AppResult<Vec<String>>;
    /// Up to `limit` of the documents in the device's scope and in `part` (see
    /// [`part_condition`]) whose ids sort after `after` (`""`: from the first), in order,
    /// as (id, the bytes of its stored changes).
    fn scope_documents(
        &mut self,
        device: &DeviceInfo,
        part: PassPart,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<(String, i64)>>;
    /// Every change with `seq <= upto` of the documents `ids` (listed from the device's
    /// scope by [`scope_documents`] in this snapshot, so in scope), as (document, its
    /// position in the log, hash, bytes), in any order: one lookup of each document's
    /// changes, not the scope listed again.
    ///
    /// [`scope_documents`]: FeedTx::scope_documents
    fn documents_changes(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<ChangeRow>>;
    /// The index rows (`docs.feed_index`) of the documents `ids` (listed from the scope by
    /// [`scope_documents`]) that have them and no change after `upto` (the rows were
    /// derived at the heads of the changes sent), as (document, rows), in any order.
    ///
    /// [`scope_documents`]: FeedTx::scope_documents
    fn documents_index(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<(String, Vec<u8>)>>;
    /// The mark of the log row at `seq` ([`row_mark`]), `None` when there is none.
    fn log_mark(&mut self, seq: i64) -> AppResult<Option<String>>;
    /// Every scope row with `after < seq <= upto`, oldest first.
    fn scope_rows(&mut self, after: i64, upto: i64) -> AppResult<Vec<LogRow>>;
    /// The last log position recorded as told to the device, if a scope row lies after
    /// it and at or before `upto` (none for a device the server does not know).
    fn handed_before_scope_row(&mut self, device: &str, upto: i64) -> AppResult<Option<i64>>;
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

/// The most a response in which the first part ends holds (unless the first part alone
/// holds more): what the history may add to it.
const FIRST_USE_TAIL: usize = 64 << 10;

const WEEK_MS: i64 = 7 * 86_400_000;

/// Changes in the device's scope (and in its working set, when it asks for one) after
/// `cursor`, up to about `max_bytes`, except those in `just_pushed`, the documents that
/// left its scope, and those that left its working set.
///
/// A first sync (`cursor` at the start of the log) does not read the log: it pages through
/// the documents in scope, first what a new phone needs then the history (`pass.rs`), each
/// with all its changes up to the end of the log as the first page found it (`upto`), so
/// that a document arrives once rather than once per page that happens to hold one of its
/// changes; then it reads the log after `upto` as any sync does. See docs/protocol.md, "A
/// first sync".
pub fn read(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    (cursor, mark): (&FeedCursor, Option<&str>),
    max_bytes: usize,
    (just_pushed, outbox_emptied): (&HashSet<String>, bool),
    working: Option<WorkingSet>,
) -> AppResult<Feed> {
    // Counted while it runs, unless the console reads it (`priority.rs`).
    let _sync = crate::priority::foreground();
    let end = tx.end()?;
    let position = i64::try_from(cursor.position())
        .map_err(|_| AppError::BadRequest("cursor is out of range".into()))?;
    if position > end {
        return Err(AppError::Conflict(format!(
            "cursor `{cursor}` is ahead of this server (at `{end}`): sync again from the start"
        )));
    }
    // A cursor read from another log (a server restored from a backup, whose log has grown
    // past the cursor again) is refused as one ahead of it is: the device's own changes
    // the server confirmed after the backup are sent again only after a `409`.
    if let Some(mark) = mark
        && position > 0
        && tx.log_mark(position)?.as_deref() != Some(mark)
    {
        return Err(AppError::Conflict(format!(
            "cursor `{cursor}~{mark}` was read from another log than this server's (it was \
             restored from a backup): sync again from the start, sending every change of \
             your own again"
        )));
    }
    let mut feed = read_at(
        tx,
        device,
        (cursor, position, end),
        max_bytes,
        just_pushed,
        working,
    )?;
    // Only a sync that leaves the device's outbox empty tells (see `tell_what_left`).
    if outbox_emptied {
        tell_what_left(tx, device, end, &mut feed)?;
    }
    let at = i64::try_from(feed.cursor.position()).unwrap_or(0);
    feed.mark = if at > 0 { tx.log_mark(at)? } else { None };
    Ok(feed)
}

/// [`read`] once the snapshot's `end` is known and the cursor's `position` checked.
fn read_at(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    (cursor, position, end): (&FeedCursor, i64, i64),
    max_bytes: usize,
    just_pushed: &HashSet<String>,
    working: Option<WorkingSet>,
) -> AppResult<Feed> {
    let mut feed = Feed {
        cursor: cursor.clone(),
        ..Feed::default()
    };
    let mut out = Changes::default();
    let mut budget = Budget {
        max_bytes,
        just_pushed,
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // The working set's start by the server's clock, for a device that asks for one.
    let window_start = working.map(|w| now_ms.saturating_sub(i64::from(w.weeks) * WEEK_MS));
    let (log_from, floor) = match pass_of(cursor, end, now_ms, window_start) {
        None => {
            let mut floor = i64::MIN;
            if let (Some(working), Some(start)) = (working, window_start) {
                // Never below what the device says it holds: the feed must not send a
                // change of a document the device let go.
                let held = working.since.unwrap_or(i64::MIN);
                floor = start.max(held);
                if floor > held {
                    (feed.let_go, floor) = left_window(tx, device, held, floor)?;
                }
                feed.working_since = Some(floor);
            }
            (position, floor)
        }
        Some(mut pass) => {
            feed.working_since = pass.part.floor;
            let upto = pass.upto;
            if pass.part.part == Part::FirstUse && pass.after.is_none() {
                feed.removed = left_before(tx, device, upto)?;
            }
            // Bounded: the first part, then the history, then the log.
            for _ in 0..2 {
                if !read_pass(tx, device, &mut pass, &budget, &mut feed, &mut out)? {
                    feed.changes = out.changes;
                    return Ok(feed);
                }
                if pass.part.part == Part::History || pass.by_id {
                    break;
                }
                // The first part is whole: the device can be used once it stores this
                // response. So that it is stored before the history fills a page, the
                // response holds at most a small page's worth in all: a small scope still
                // arrives in one response.
                feed.first_use = true;
                pass.part.part = Part::History;
                pass.after = None;
                budget.max_bytes = budget.max_bytes.min(FIRST_USE_TAIL);
                if budget.spent(&out) {
                    feed.cursor = pass.cursor();
                    feed.more = true;
                    feed.changes = out.changes;
                    return Ok(feed);
                }
            }
            feed.cursor = FeedCursor::Log(upto as u64);
            (upto, pass.part.floor_bound())
        }
    };
    read_log(
        tx,
        device,
        (log_from, floor),
        end,
        &budget,
        &mut feed,
        &mut out,
    )?;
    feed.changes = out.changes;
    Ok(feed)
}

/// The mark of a log row: the first 8 bytes of a SHA-256 of everything it records, in
/// hexadecimal. A cursor carries the mark of the row at its position, so a server knows a
/// cursor read from another log: rows at one position in two logs differ at least by the
/// instant they were logged.
pub fn row_mark(seq: i64, fields: [Option<&str>; 4], at: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(seq.to_le_bytes());
    for field in fields {
        // Length-prefixed, so that no two rows write the same bytes.
        let field = field.unwrap_or("\u{0}absent");
        hash.update((field.len() as u64).to_le_bytes());
        hash.update(field.as_bytes());
    }
    hash.update(at.to_le_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a response may hold.
struct Budget<'a> {
    max_bytes: usize,
    /// Hashes of the changes the request carried: never sent back in its response.
    just_pushed: &'a HashSet<String>,
}

impl Budget<'_> {
    /// Whether `out` is full: it always holds at least one document.
    fn spent(&self, out: &Changes) -> bool {
        out.bytes >= self.max_bytes && !out.changes.is_empty()
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
    /// Sends `rows` as the index rows of `doc`, already in this response.
    fn set_index(&mut self, doc: &str, rows: Vec<u8>) {
        if let Some(entry) = self.by_doc.get(doc).and_then(|&i| self.changes.get_mut(i)) {
            self.bytes += rows.len();
            entry.index = Some(ByteBuf::from(rows));
        }
    }

    fn push(&mut self, doc: String, change: Vec<u8>) {
        self.bytes += change.len();
        let changes = &mut self.changes;
        let index = *self.by_doc.entry(doc.clone()).or_insert_with(|| {
            changes.push(DocChanges {
                doc,
                changes: Vec::new(),
                index: None,
            });
            changes.len() - 1
        });
        if let Some(entry) = self.changes.get_mut(index) {
            entry.changes.push(ByteBuf::from(change));
        }
    }
}
