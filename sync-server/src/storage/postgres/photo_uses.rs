//! The photos each visit uses ([`crate::storage::photo_uses`]) on PostgreSQL, and the photos
//! a push claims ([`crate::storage::photo_owners`]): gathered by a push and written in four
//! statements before it commits, read by the admin reports,
//! filled in for visits stored before schema 11.

use std::collections::BTreeMap;

use postgres::{Client, Transaction};

use crate::error::AppResult;
use crate::storage::photo_uses::{self, BACKFILL_BATCH, PhotoUse, VisitPhotos};

/// The visits a push stored and the photos each uses now, written by [`PhotoRows::flush`].
#[derive(Default)]
pub(super) struct PhotoRows {
    visits: Vec<String>,
    visit: Vec<String>,
    hash: Vec<String>,
    store: Vec<String>,
    day: Vec<i64>,
    /// The photos the push claims (`photo_owners.rs`) and by whom.
    claimed: Vec<String>,
    claimed_by: Vec<String>,
}

impl PhotoRows {
    /// Replaces the rows of `visit` with `photos` when the push flushes.
    pub(super) fn set(&mut self, visit: &str, store: &str, photos: &VisitPhotos) {
        self.visits.push(visit.to_owned());
        for (hash, day) in photos {
            self.visit.push(visit.to_owned());
            self.hash.push(hash.clone());
            self.store.push(store.to_owned());
            self.day.push(*day);
        }
    }

    /// Claims `hashes` for `user` when the push flushes.
    pub(super) fn claim(&mut self, user: &str, hashes: Vec<String>) {
        self.claimed_by
            .extend(std::iter::repeat_n(user.to_owned(), hashes.len()));
        self.claimed.extend(hashes);
    }

    /// Writes the rows inside `tx`, which holds the visits' document locks.
    pub(super) fn flush(self, tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
        crate::storage::photo_owners::postgres_claim(tx, &self.claimed, &self.claimed_by)?;
        if self.visits.is_empty() {
            return Ok(());
        }
        tx.execute(
            "DELETE FROM photo_uses WHERE visit = ANY($1)",
            &[&self.visits],
        )?;
        if !self.visit.is_empty() {
            tx.execute(
                "INSERT INTO photo_uses (visit, hash, store, day)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&self.visit, &self.hash, &self.store, &self.day],
            )?;
        }
        Ok(())
    }
}

/// Every use of each reused photo, grouped by hash.
pub(super) fn reused(client: &mut Client) -> AppResult<BTreeMap<String, Vec<PhotoUse>>> {
    let rows = client.query(photo_uses::REUSED_QUERY, &[])?;
    Ok(photo_uses::grouped(rows.iter().map(|r| {
        (
            r.get(0),
            PhotoUse {
                visit: r.get(1),
                store: r.get(2),
                day: r.get(3),
            },
        )
    })))
}

/// Fills in the photos of the visits stored before schema 11, a batch per transaction,
/// until none is left. Each batch takes its visits' document locks first (in id order, as
/// a push does), so a push of one of them waits and then writes rows from every change (and
/// one that came first is in the changes the batch reads): pushes need not touch the list;
/// batches another instance holds are skipped, so instances starting together share the
/// work. Bounded: each pass takes its batch off the list, or finds nothing it can take.
pub(super) fn backfill(client: &mut Client) -> AppResult<()> {
    loop {
        let mut tx = client.transaction()?;
        let visits: Vec<String> = tx
            .query(
                "SELECT visit FROM photo_uses_pending ORDER BY visit LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&(BACKFILL_BATCH as i64)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if visits.is_empty() {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO doc_locks (id) SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS t (id, n)
             ORDER BY n ON CONFLICT (id) DO UPDATE SET id = excluded.id",
            &[&visits],
        )?;
        let mut rows = PhotoRows::default();
        for visit in &visits {
            let changes: Vec<Vec<u8>> = tx
                .query(
                    "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
                    &[visit],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let (store, photos) = photo_uses::of_stored(visit, &changes)?;
            rows.set(visit, &store, &photos);
        }
        rows.flush(&mut tx)?;
        tx.execute(
            "DELETE FROM photo_uses_pending WHERE visit = ANY($1)",
            &[&visits],
        )?;
        tx.commit()?;
    }
}
