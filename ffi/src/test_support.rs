//! Helpers of the unit tests: a phone's store in a temp folder with a clock the test moves,
//! and a store document to work on.

use std::sync::Arc;

use fieldsync_core::fixtures::{ManualClock, at, device};

use crate::changes::Listeners;
use crate::retail_store::{MarketType, NewStoreRecord, StoreFormat, StoreSize, ValueTier};
use crate::store::FieldStore;

/// Monday 23 November 2026, 10:00 in the district (UTC+8): working hours.
pub(crate) const MONDAY_10: &str = "2026-11-23T10:00:00+08:00";

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// One device: its store, its clock, and the folder that holds the database.
pub(crate) struct Phone {
    pub(crate) store: FieldStore,
    pub(crate) clock: ManualClock,
    pub(crate) _dir: tempfile::TempDir,
}

/// A phone of `user` whose clock reads `start` (RFC 3339).
pub(crate) fn phone(user: &str, start: &str) -> Phone {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, clock) =
        device(dir.path().join(format!("{user}.db")), user, at(start)).expect("open the store");
    let store = FieldStore {
        core: Arc::new(core),
        listeners: Arc::new(Listeners::default()),
    };
    Phone {
        store,
        clock,
        _dir: dir,
    }
}

/// An urban medium convenience store of `territory`, not on the demo street.
pub(crate) fn new_store(licence: &str, territory: &str) -> NewStoreRecord {
    NewStoreRecord {
        licence: licence.into(),
        name: format!("Green Leaf {licence}"),
        owner: "Wang".into(),
        phone: "13800000000".into(),
        address: "1 Wulin Road".into(),
        lat: 30.2741,
        lng: 120.1551,
        datum: crate::visit::Datum::Wgs84,
        geofence_m: None,
        format: StoreFormat::Convenience,
        market: MarketType::Urban,
        size: StoreSize::Medium,
        tier: ValueTier::A,
        monthly_volume: 120,
        demo_street: false,
        functional_terminal: false,
        rating: None,
        territory: territory.into(),
    }
}

/// An RFC 3339 time as the boundary's instant.
pub(crate) fn ms(rfc3339: &str) -> crate::time::Instant {
    crate::time::Instant(at(rfc3339).millis())
}

/// Tests move instants by milliseconds (`received + 2 * HOUR_MS`).
impl std::ops::Add<i64> for crate::time::Instant {
    type Output = crate::time::Instant;

    fn add(self, ms: i64) -> Self::Output {
        crate::time::Instant(self.0 + ms)
    }
}
