//! The workload of the crash-safety test: what the `fieldsync-visit-writer` process records,
//! and the line it prints after each write that returned `Ok`.
//!
//! The writer makes sure the device has [`STORES`] stores, then records up to `max_visits`
//! visits, each in four writes ([`Step`]). It compacts when it starts (what the last killed
//! run left) and every [`COMPACT_EVERY`] visits, so that a kill can also land in the middle
//! of a compaction. After a write returns `Ok` it prints an acknowledgement line and flushes
//! it, so a line the parent reads is a write the store promised to keep. What each step writes is derived from the visit id
//! ([`notes_for`], [`photo_hash_for`], [`VISIT_MINUTES`]), so the checker knows what must be
//! visible without the writer telling it.
//!
//! Lines, one per acknowledged write: `ok store <id>`, `ok visit <id> <step>`,
//! `ok compact <count>`; and `begin compact` (not an acknowledgement) when a compaction
//! starts, so the parent can tell that a kill landed during one.

use std::io::Write;
use std::path::Path;

use fieldsync_core::fixtures::sample_store;
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, DocKind, GeoPoint, GpsFix, LocalStore, NewVisit, Result,
    StoreOptions, Timestamp, VisitKind,
};

/// The user of the device the writer plays.
pub const USER: &str = "crash-am";
/// Stores the writer creates on its first run; visits go round them.
pub const STORES: usize = 3;
/// A compaction when the writer starts and after every this many visits.
pub const COMPACT_EVERY: usize = 2;
/// `compact(min_chunks, max_docs)` as the writer calls it.
pub const COMPACT_MIN_CHUNKS: usize = 2;
pub const COMPACT_MAX_DOCS: usize = 5;
/// How long each visit lasts, check-in to check-out.
pub const VISIT_MINUTES: i64 = 25;
/// The caption of the photo each visit gets.
pub const PHOTO_CAPTION: &str = "shelf after restock";

/// The writes that record one visit, in the order the writer makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Created,
    Notes,
    Photo,
    CheckedOut,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Created, Step::Notes, Step::Photo, Step::CheckedOut];

    pub fn code(self) -> &'static str {
        match self {
            Step::Created => "created",
            Step::Notes => "notes",
            Step::Photo => "photo",
            Step::CheckedOut => "checked_out",
        }
    }

    pub fn parse(text: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.code() == text)
    }
}

/// Opens the writer's device store (the parent opens it the same way to check it).
pub fn open(path: &Path) -> Result<LocalStore> {
    LocalStore::open(
        path,
        DeviceIdentity::new(USER, format!("{USER}-phone")),
        StoreOptions::default(),
    )
}

/// The notes the writer sets on `visit`.
pub fn notes_for(visit: &DocId) -> String {
    format!("restocked slim packs; visit `{visit}`")
}

/// The photo content hash the writer adds to `visit`: its id's 32 hex digits, twice.
pub fn photo_hash_for(visit: &DocId) -> String {
    let hex: String = visit.as_str().chars().filter(|c| *c != '-').collect();
    format!("sha256:{hex}{hex}")
}

/// Records up to `max_visits` visits in `db`, printing an acknowledgement line to `out`
/// (flushed) after each write that returned `Ok`. Stops at the first error.
pub fn run(db: &LocalStore, max_visits: usize, out: &mut impl Write) -> Result<()> {
    let mut stores = db.document_ids(DocKind::Store)?;
    // Bounded: each pass adds one store or returns the error.
    while stores.len() < STORES {
        let n = u32::try_from(stores.len() + 1).unwrap_or(u32::MAX);
        let id = db.create_store(sample_store(USER, n))?;
        ack(out, format_args!("ok store {id}"))?;
        stores.push(id);
    }
    // A fix near where `sample_store` puts the store; reading the stores back would cost
    // more start-up time, and a wrong guess only flags the visit out of range.
    let places: Vec<(DocId, GeoPoint)> = stores
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            (id.clone(), sample_store(USER, n).location)
        })
        .collect();
    // What a killed run left uncompacted is compacted first, as an app does when it starts.
    compact(db, out)?;
    for (n, (store, location)) in places.iter().cycle().take(max_visits).enumerate() {
        let near = GpsFix::wgs84(location.lat + 0.0003, location.lng, 8.0);
        // Checked in `VISIT_MINUTES` ago, so the check-out (at the check-in plus the visit's
        // length) is not ahead of the device's clock.
        let check_in = Timestamp(Timestamp::now().0 - VISIT_MINUTES * 60_000);
        let visit = db.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: check_in,
                gps: Some(near),
            },
            complaint_id: None,
        })?;
        ack(
            out,
            format_args!("ok visit {visit} {}", Step::Created.code()),
        )?;
        db.set_visit_notes(&visit, &notes_for(&visit))?;
        ack(out, format_args!("ok visit {visit} {}", Step::Notes.code()))?;
        db.add_visit_photo(&visit, &photo_hash_for(&visit), PHOTO_CAPTION)?;
        ack(out, format_args!("ok visit {visit} {}", Step::Photo.code()))?;
        db.check_out_visit(
            &visit,
            CheckPoint {
                at: Timestamp(check_in.0 + VISIT_MINUTES * 60_000),
                gps: Some(near),
            },
        )?;
        ack(
            out,
            format_args!("ok visit {visit} {}", Step::CheckedOut.code()),
        )?;
        if (n + 1) % COMPACT_EVERY == 0 {
            compact(db, out)?;
        }
    }
    Ok(())
}

fn compact(db: &LocalStore, out: &mut impl Write) -> Result<()> {
    ack(out, format_args!("begin compact"))?;
    let compacted = db.compact(COMPACT_MIN_CHUNKS, COMPACT_MAX_DOCS)?;
    ack(out, format_args!("ok compact {compacted}"))
}

/// One whole line, flushed, so the parent never reads an acknowledgement the writer has not
/// finished printing as a complete line.
fn ack(out: &mut impl Write, line: std::fmt::Arguments<'_>) -> Result<()> {
    out.write_all(format!("{line}\n").as_bytes())?;
    out.flush()?;
    Ok(())
}
