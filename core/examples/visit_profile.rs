//! A fixed workload for profiling the local store with instruction counts, which do not
//! depend on the machine's load the way wall-clock figures do:
//!
//! ```sh
//! cargo build --release -p fieldsync-core --example visit_profile
//! valgrind --tool=callgrind --toggle-collect='*visit_profile::measured*' \
//!     target/release/examples/visit_profile [edits|visits|whole|merge|both] [sessions]
//! ```
//!
//! The setup (stores, displays, the first visits that warm the cache) is outside the
//! `measured_*` functions, so only the timed part of the benchmark's scenarios is counted:
//! `edits` is the benchmark's "one edit during a visit" (38 single edits per session),
//! `visits` its "whole visit in 7 durable steps", `whole` its "whole visit, one
//! transaction", `merge` a new phone taking in every
//! document of this one (as the sync client applies a response: in one transaction, each
//! document through `merge_from_server`) after `sessions` more visits.

use std::error::Error;

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DisplayCheck, DisplayStandard, DocId, GpsFix, LocalStore,
    NewCountLine, NewInventoryCount, NewStore, NewVisit, ProductOnDisplay, StandardCheck,
    StoreOptions, Timestamp, Verdict, VisitKind,
};

type Res<T> = Result<T, Box<dyn Error>>;

const STORES: u32 = 40;

fn sku(i: usize) -> String {
    format!("sku-{:03}", 100 + i)
}

fn gps(store: &NewStore) -> Option<GpsFix> {
    Some(GpsFix::wgs84(
        store.location.lat + 0.0002,
        store.location.lng,
        8.0,
    ))
}

fn book_lines() -> Vec<NewCountLine> {
    (0..30)
        .map(|i| NewCountLine {
            sku: sku(i),
            name: format!("Brand {i} 20s"),
            book: 20 + i as i64,
        })
        .collect()
}

fn standards(seq: usize) -> Vec<StandardCheck> {
    DisplayStandard::ALL
        .iter()
        .enumerate()
        .map(|(j, &standard)| StandardCheck {
            standard,
            verdict: if (seq + j).is_multiple_of(7) {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            note: String::new(),
            photos: Vec::new(),
        })
        .collect()
}

fn products() -> Vec<ProductOnDisplay> {
    (0..20)
        .map(|i| ProductOnDisplay {
            sku: sku(i),
            name: format!("Brand {i} 20s"),
            price_tag: i >= 5,
        })
        .collect()
}

fn counted(seq: usize) -> Vec<(String, i64)> {
    (0..30)
        .map(|i| (sku(i), 20 + i as i64 + ((seq + i) % 5) as i64 - 2))
        .collect()
}

/// A visit in 7 durable steps, as the benchmark's stepwise visit.
fn visit(db: &LocalStore, clock: &ManualClock, store: &(DocId, NewStore), seq: usize) -> Res<()> {
    Ok(record_visit(db, clock, store, seq, false)?)
}

/// The visit saved whole at check-out, as the benchmark's one-transaction visit: the count
/// recorded with its quantities and finished in the change that creates it.
fn visit_whole(
    db: &LocalStore,
    clock: &ManualClock,
    store: &(DocId, NewStore),
    seq: usize,
) -> Res<()> {
    Ok(db.in_one_transaction(|db| record_visit(db, clock, store, seq, true))?)
}

fn record_visit(
    db: &LocalStore,
    clock: &ManualClock,
    store: &(DocId, NewStore),
    seq: usize,
    whole: bool,
) -> fieldsync_core::Result<()> {
    let at = Timestamp(1_717_030_800_000 + seq as i64 * 3_600_000);
    clock.set(at);
    let (id, new) = store;
    let display = LocalStore::shelf_display_id(id);
    let visit = db.create_visit(NewVisit {
        store_id: id.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint { at, gps: gps(new) },
        complaint_id: None,
    })?;
    db.record_display_check(
        &display,
        &DisplayCheck {
            standards: standards(seq),
            products: products(),
            ..DisplayCheck::default()
        },
    )?;
    let new_count = NewInventoryCount {
        store_id: id.clone(),
        lines: book_lines(),
    };
    let count = if whole {
        db.record_inventory_count(new_count, &counted(seq), true)?
    } else {
        let count = db.create_inventory_count(new_count)?;
        db.set_counted_many(&count, &counted(seq))?;
        db.finish_count(&count)?;
        count
    };
    db.link_visit(&visit, Some(&display), Some(&count))?;
    clock.set(Timestamp(at.0 + 20 * 60_000));
    db.check_out_visit(
        &visit,
        CheckPoint {
            at: Timestamp(at.0 + 20 * 60_000),
            gps: gps(new),
        },
    )
}

#[inline(never)]
fn measured_whole(
    db: &LocalStore,
    clock: &ManualClock,
    stores: &[(DocId, NewStore)],
    from: usize,
    n: usize,
) -> Res<()> {
    for seq in from..from + n {
        visit_whole(db, clock, &stores[seq % stores.len()], seq)?;
    }
    Ok(())
}

#[inline(never)]
fn measured_visits(
    db: &LocalStore,
    clock: &ManualClock,
    stores: &[(DocId, NewStore)],
    from: usize,
    n: usize,
) -> Res<()> {
    for seq in from..from + n {
        visit(db, clock, &stores[seq % stores.len()], seq)?;
    }
    Ok(())
}

#[inline(never)]
fn measured_edits(db: &LocalStore, count: &DocId, display: &DocId, seq: usize) -> Res<()> {
    let mut standards = DisplayStandard::ALL.iter();
    for (i, (sku, qty)) in counted(seq).into_iter().enumerate() {
        db.set_counted(count, &sku, qty)?;
        if i % 4 == 1
            && let Some(&st) = standards.next()
        {
            db.mark_display_standard(display, st, Verdict::Pass, "")?;
        }
    }
    Ok(())
}

#[inline(never)]
fn measured_merge(phone: &LocalStore, all: &[(DocId, Vec<Vec<u8>>)]) -> Res<()> {
    phone.in_one_transaction(|phone| {
        for (id, changes) in all {
            phone.merge_from_server(id, changes)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let sessions: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::starting_at(Timestamp(1_717_030_800_000));
    let db = LocalStore::open(
        dir.path().join("profile.db"),
        DeviceIdentity::new("am-bench", "profile-phone"),
        StoreOptions {
            clock: clock.clock(),
            ..StoreOptions::default()
        },
    )?;
    let stores: Vec<(DocId, NewStore)> = (0..STORES)
        .map(|n| -> Res<(DocId, NewStore)> {
            let new = sample_store("am-bench", n);
            let id = db.create_store(new.clone())?;
            db.create_shelf_display(&id)?;
            Ok((id, new))
        })
        .collect::<Res<_>>()?;
    // Every display gets a few checks of history first, as in the benchmark.
    let warm = 3 * stores.len();
    for seq in 0..warm {
        visit(&db, &clock, &stores[seq % stores.len()], seq)?;
    }
    if mode == "visits" || mode == "both" {
        measured_visits(&db, &clock, &stores, warm, sessions)?;
    }
    if mode == "whole" {
        measured_whole(&db, &clock, &stores, warm, sessions)?;
    }
    if mode == "edits" || mode == "both" {
        for session in 0..sessions {
            let (id, _) = &stores[session % stores.len()];
            let count = db.create_inventory_count(NewInventoryCount {
                store_id: id.clone(),
                lines: book_lines(),
            })?;
            measured_edits(&db, &count, &LocalStore::shelf_display_id(id), session)?;
        }
    }
    if mode == "merge" {
        measured_visits(&db, &clock, &stores, warm, sessions)?;
        let mut all = Vec::new();
        for kind in fieldsync_core::DocKind::ALL {
            for id in db.document_ids(kind)? {
                let changes = db.export_changes(&id, &[])?;
                all.push((id, changes));
            }
        }
        let phone = LocalStore::open(
            dir.path().join("new-phone.db"),
            DeviceIdentity::new("am-bench", "new-phone"),
            StoreOptions::default(),
        )?;
        measured_merge(&phone, &all)?;
    }
    println!("{mode}: {sessions} sessions done");
    Ok(())
}
