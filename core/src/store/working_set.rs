//! The phone's side of the working set (docs/protocol.md, "The working set"): from which
//! instant it holds every visit and count of its scope, and the documents fetched on
//! demand from outside it, kept until the app's rule lets them go.
//!
//! Documents that leave the working set as the weeks go by are named by the server
//! (`let_go`) and leave through the same table as documents that left the scope: each is
//! dropped once nothing of it waits for the server. The server decides which, from what it
//! recorded of each document, so that it never later sends a change of a document the
//! phone let go (the change would depend on history the phone no longer has).

use rusqlite::{Connection, OptionalExtension};

use super::LocalStore;
use super::feed_merge::default_workers;
use crate::error::Result;
use crate::ids::DocId;
use crate::time::Timestamp;

/// A document fetched on demand: its id, every change of it, and when it happened as the
/// server recorded it.
pub type FetchedDocument = (DocId, Vec<Vec<u8>>, Option<i64>);

/// What storing fetched documents did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FetchedStored {
    /// Documents merged.
    pub merged: usize,
    /// Of those, the ones outside the working set, kept until `let_go_fetched`.
    pub kept_as_fetched: usize,
    /// Documents that cannot be read, kept aside as damaged.
    pub damaged: Vec<DocId>,
}

impl LocalStore {
    /// The `working_since` of the last sync response stored (ms since the epoch, by the
    /// server's clock): from then on this phone holds every visit and count of its scope.
    /// `None`: it holds all of them, or it asked for no working set.
    pub fn working_since(&self) -> Result<Option<i64>> {
        self.read(working_since)
    }

    /// Stores documents fetched on demand, each whole with when it happened as the server
    /// recorded it (`FetchedDoc`). Those that happened before the working set's start
    /// are kept as fetched (by the store's clock) until
    /// [`let_go_fetched`](Self::let_go_fetched) lets them go: the server sends no later
    /// change of them. All are stored, or none when one fails.
    pub fn store_fetched(&self, docs: Vec<FetchedDocument>) -> Result<FetchedStored> {
        let mut inner = self.lock()?;
        let now = (inner.clock)();
        inner.all_or_nothing(|inner| {
            let since = working_since(&inner.conn)?;
            let outside: Vec<DocId> = docs
                .iter()
                .filter(|(_, _, at)| matches!((since, at), (Some(s), Some(a)) if a < &s))
                .map(|(id, _, _)| id.clone())
                .collect();
            let docs = docs.into_iter().map(|(id, c, _)| (id, c)).collect();
            let (merged, _) = inner.merge_many(docs, true, default_workers(), &|| false)?;
            let mut keep = inner.conn.prepare_cached(
                "INSERT INTO fetched (doc_id, fetched_at) VALUES (?1, ?2)
                 ON CONFLICT (doc_id) DO UPDATE SET fetched_at = excluded.fetched_at",
            )?;
            let mut unmark = inner
                .conn
                .prepare_cached("DELETE FROM leaving WHERE doc_id = ?1")?;
            for id in &outside {
                keep.execute(rusqlite::params![id.as_str(), now.0])?;
                unmark.execute([id.as_str()])?;
            }
            Ok(FetchedStored {
                merged: merged.count,
                kept_as_fetched: outside.len(),
                damaged: merged.damaged,
            })
        })
    }

    /// Lets go of the documents fetched on demand before `before` (by the store's clock),
    /// as soon as none of their edits waits for the server. Returns how many were dropped
    /// now. The sync client calls it after each sync with its `keep_fetched` rule.
    pub fn let_go_fetched(&self, before: Timestamp) -> Result<usize> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(|inner| {
            inner.conn.execute(
                "INSERT OR IGNORE INTO leaving (doc_id)
                 SELECT doc_id FROM fetched WHERE fetched_at < ?1",
                [before.0],
            )?;
            super::feed::drop_left_documents(inner)
        })
    }

    /// Whether `id` is held as fetched from outside the working set.
    pub fn is_fetched(&self, id: &DocId) -> Result<bool> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM fetched WHERE doc_id = ?1",
                    [id.as_str()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }
}

pub(super) fn working_since(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'working_since'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records the `working_since` of a response, with the cursor it came with; `None` forgets
/// it (the phone starts over from no cursor).
pub(super) fn set_working_since(conn: &Connection, since: Option<i64>) -> Result<()> {
    match since {
        Some(since) => conn.execute(
            "INSERT INTO meta (key, value) VALUES ('working_since', CAST(?1 AS BLOB))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [since.to_string()],
        )?,
        None => conn.execute("DELETE FROM meta WHERE key = 'working_since'", [])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{device, routine_visit, sample_store};

    const DAY_MS: i64 = 86_400_000;

    /// A visit made on another phone 100 days before `now`, as the server would send it:
    /// its store's and its own changes.
    fn old_visit(dir: &std::path::Path, now: i64) -> Result<Vec<FetchedDocument>> {
        let at = Timestamp(now - 100 * DAY_MS);
        let (other, _) = device(dir.join("other.db"), "am-li", at)?;
        let store = other.create_store(sample_store("am-li", 1))?;
        let visit = other.create_visit(routine_visit(&store, at))?;
        Ok(other
            .outbox_batch(10)?
            .into_iter()
            .map(|d| {
                let happened = (d.id == visit).then_some(at.0);
                (d.id, d.changes, happened)
            })
            .collect())
    }

    #[test]
    fn a_fetched_document_with_an_edit_not_yet_on_the_server_is_kept_past_the_rule()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let now = Timestamp::now().0;
        let (phone, clock) = device(dir.path().join("phone.db"), "am-li", Timestamp(now))?;
        set_working_since(&phone.lock()?.conn, Some(now - 35 * DAY_MS))?;
        let docs = old_visit(dir.path(), now)?;
        let visit = docs
            .iter()
            .find(|(_, _, at)| at.is_some())
            .map(|(id, _, _)| id.clone())
            .ok_or("no visit")?;
        let stored = phone.store_fetched(docs)?;
        assert_eq!((stored.merged, stored.kept_as_fetched), (2, 1));
        assert!(
            phone.is_fetched(&visit)?,
            "the old visit is kept as fetched"
        );

        phone.append_visit_notes(&visit, "a note made offline")?;
        clock.set(Timestamp(now + 2 * DAY_MS));
        assert_eq!(phone.let_go_fetched(Timestamp(now + DAY_MS))?, 0);
        assert!(
            phone.visit(&visit)?.notes.contains("a note made offline"),
            "kept while its edit waits for the server"
        );
        let pending = phone.outbox_batch(10)?;
        let sent = pending
            .iter()
            .find(|d| d.id == visit)
            .ok_or("not pending")?;
        phone.confirm_pushed(&sent.id, sent.local_edits, &sent.heads)?;
        assert_eq!(phone.let_go_fetched(Timestamp(now + DAY_MS))?, 1);
        assert!(phone.visit(&visit).is_err(), "let go once on the server");
        assert!(!phone.is_fetched(&visit)?);
        Ok(())
    }

    #[test]
    fn a_fetched_document_whose_own_photo_is_not_uploaded_is_kept_past_the_rule()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let now = Timestamp::now().0;
        let (phone, _) = device(dir.path().join("phone.db"), "am-li", Timestamp(now))?;
        set_working_since(&phone.lock()?.conn, Some(now - 35 * DAY_MS))?;
        let docs = old_visit(dir.path(), now)?;
        let visit = docs
            .iter()
            .find(|(_, _, at)| at.is_some())
            .map(|(id, _, _)| id.clone())
            .ok_or("no visit")?;
        phone.store_fetched(docs)?;
        phone.add_photo(
            &crate::photos::PhotoTarget::Visit(visit.clone()),
            crate::photos::PhotoSource::Bytes(&crate::photos::thumbnail::sample_jpeg(64, 48, 1)),
            &crate::photos::PhotoMeta::default(),
        )?;
        for sent in phone.outbox_batch(10)? {
            phone.confirm_pushed(&sent.id, sent.local_edits, &sent.heads)?;
        }
        assert_eq!(phone.let_go_fetched(Timestamp(now + DAY_MS))?, 0);
        assert!(phone.visit(&visit).is_ok(), "kept while its photo waits");
        for p in phone.pending_photos(false, 10)? {
            phone.mark_photo_uploaded(&p.hash)?;
        }
        assert_eq!(phone.let_go_fetched(Timestamp(now + DAY_MS))?, 1);
        Ok(())
    }

    #[test]
    fn a_phone_without_a_working_set_keeps_what_it_fetches_as_its_own() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let now = Timestamp::now().0;
        let (phone, _) = device(dir.path().join("phone.db"), "am-li", Timestamp(now))?;
        let stored = phone.store_fetched(old_visit(dir.path(), now)?)?;
        assert_eq!((stored.merged, stored.kept_as_fetched), (2, 0));
        assert_eq!(phone.let_go_fetched(Timestamp(now + DAY_MS))?, 0);
        Ok(())
    }
}
