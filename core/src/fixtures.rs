//! Ready-made inputs for tests, benchmarks and the demo district.
//!
//! Deterministic: the same arguments give the same stores, so a failing test or a demo
//! data set can be reproduced.

pub mod unreadable;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::geo::GeoPoint;
use crate::ids::DocId;
use crate::kinds::inventory_count::{NewCountLine, NewInventoryCount};
use crate::kinds::store::{MarketType, NewStore, StoreFormat, StoreSize, ValueTier};
use crate::kinds::visit::{CheckPoint, NewVisit, VisitKind};
use crate::store::Clock;
use crate::time::Timestamp;

/// A store of `territory` numbered `n`: an urban medium convenience store near 30.27 N,
/// 120.15 E (each number a little further east), tier B, neither on the demo street nor a
/// functional terminal. Change the fields a test is about.
pub fn sample_store(territory: &str, n: u32) -> NewStore {
    NewStore {
        licence: format!("3301{n:08}"),
        name: format!("Store {n}"),
        owner: format!("Owner {n}"),
        phone: format!("138{n:08}"),
        address: format!("{n} Demo Street"),
        location: GeoPoint::wgs84(30.27, 120.15 + f64::from(n) * 0.001),
        geofence_m: None,
        format: StoreFormat::Convenience,
        market: MarketType::Urban,
        size: StoreSize::Medium,
        tier: ValueTier::B,
        monthly_volume: 120,
        demo_street: false,
        functional_terminal: false,
        rating: None,
        territory: territory.to_owned(),
    }
}

/// A routine visit of `store` checked in at `at`, without GPS.
pub fn routine_visit(store: &DocId, at: Timestamp) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint { at, gps: None },
        complaint_id: None,
    }
}

/// An inventory count of `store` with `lines` lines (`sku-000`, ... with book quantities
/// 20, 21, ...).
pub fn sample_count(store: &DocId, lines: i64) -> NewInventoryCount {
    NewInventoryCount {
        store_id: store.clone(),
        lines: (0..lines)
            .map(|n| NewCountLine {
                sku: format!("sku-{n:03}"),
                name: format!("Product {n}"),
                book: 20 + n,
            })
            .collect(),
    }
}

/// A clock that a test moves by hand. `clock()` gives the value to hand to
/// [`crate::LocalStore::set_clock`] or [`crate::StoreOptions`].
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_at(t: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(t.0)))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    pub fn advance_minutes(&self, minutes: i64) {
        self.0.fetch_add(minutes * 60_000, Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }

    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || Timestamp(inner.load(Ordering::SeqCst)))
    }
}

/// Opens a device's store at `path` for `user`, with a [`ManualClock`] set to `start`.
pub fn device(
    path: impl AsRef<std::path::Path>,
    user: &str,
    start: Timestamp,
) -> crate::Result<(crate::LocalStore, ManualClock)> {
    let clock = ManualClock::starting_at(start);
    let options = crate::StoreOptions {
        clock: clock.clock(),
        ..crate::StoreOptions::default()
    };
    let identity = crate::DeviceIdentity::new(user, format!("{user}-phone"));
    Ok((crate::LocalStore::open(path, identity, options)?, clock))
}

/// Parses an RFC 3339 time written in a test or a demo script; panics on a typo there.
pub fn at(rfc3339: &str) -> Timestamp {
    match Timestamp::parse("time", rfc3339) {
        Ok(t) => t,
        Err(e) => panic!("fixture time {rfc3339}: {e}"),
    }
}

/// When the district office's fixtures happen: before every phone's fixture time, so the
/// stores an office imports exist before anyone visits them (the server refuses an edit
/// dated before what it builds on).
pub const OFFICE_TIME: &str = "2026-10-01T09:00:00+08:00";

/// A clock that always reads [`OFFICE_TIME`].
pub fn office_clock() -> Clock {
    let office = at(OFFICE_TIME);
    Arc::new(move || office)
}

/// Copies every document `from` has into `to` (both ways gives two devices the same
/// documents), as a sync would; returns how many documents were sent.
pub fn exchange(from: &crate::LocalStore, to: &crate::LocalStore) -> crate::Result<usize> {
    let mut sent = 0;
    for kind in crate::DocKind::ALL {
        for id in from.document_ids(kind)? {
            let bytes = from.export_changes(&id, &[])?;
            to.merge_changes(&id, &bytes)?;
            sent += 1;
        }
    }
    Ok(sent)
}
