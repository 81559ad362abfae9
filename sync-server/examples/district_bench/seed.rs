//! Seeding the district through the real write path: the stores imported by the office,
//! then each account manager's phone recording its year in time order and pushing it week
//! by week (the `//!` of `main.rs` says how).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Datelike;
use fieldsync_core::fixtures::{ManualClock, device};
use fieldsync_core::{
    CheckPoint, Datum, DisplayCheck, DisplayStandard, DocId, DocKind, GpsFix, LocalStore,
    NewCountLine, NewInventoryCount, NewVisit, ProductOnDisplay, Role, StandardCheck, Store,
    Timestamp, Verdict, VisitKind,
};
use fieldsync_server::admin::import::{COLUMNS, import_stores};
use fieldsync_server::admin::{AdminDevice, push_from};
use fieldsync_server::storage::{DeviceInfo, SyncStorage, User};

use super::{DAY_MS, Fallible, Plan};

/// A small deterministic dice, so that every run makes the same district.
pub(super) struct Dice(pub(super) u64);

impl Dice {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

pub(super) fn manager_id(m: usize) -> String {
    format!("am-{:02}", m + 1)
}

pub(super) fn stores_csv(plan: &Plan, dice: &mut Dice) -> String {
    let mut out = COLUMNS.join(",");
    for m in 0..plan.managers {
        let (lat0, lng0) = (30.2 + m as f64 * 0.01, 120.1 + m as f64 * 0.01);
        for s in 0..plan.stores {
            let functional = dice.below(8) == 0;
            let format = ["Z", "B", "Y", "S", "F"][dice.below(5) as usize];
            out.push_str(&format!(
                "\n33010{m:02}{s:04},店{m}-{s},店主{s},1380000{s:04},路{s}号,{:.6},{:.6},{format},C,{},{},{},0,{},{},{}",
                lat0 + dice.unit() * 0.03,
                lng0 + dice.unit() * 0.03,
                1 + dice.below(3),
                ["A", "B", "C"][dice.below(3) as usize],
                20 + dice.below(500),
                if functional { 1 } else { 0 },
                if functional { "good" } else { "" },
                manager_id(m),
            ));
        }
    }
    out
}

pub(super) fn fix(store: &Store, dice: &mut Dice) -> GpsFix {
    GpsFix {
        lat: store.location.lat + (dice.unit() - 0.5) * 0.0003,
        lng: store.location.lng + (dice.unit() - 0.5) * 0.0003,
        accuracy_m: 5.0 + dice.unit() * 20.0,
        datum: Datum::Wgs84,
    }
}

/// A phone of `user`, registered with the server and synced once (its stores pulled), or
/// reopened.
pub(super) struct Phone {
    pub(super) local: LocalStore,
    pub(super) clock: ManualClock,
    pub(super) info: DeviceInfo,
    pub(super) stores: Vec<Store>,
}

pub(super) fn phone(
    dir: &Path,
    storage: &dyn SyncStorage,
    user: &str,
    start: Timestamp,
    register: bool,
) -> Fallible<Phone> {
    let (local, clock) = device(dir.join(format!("{user}.db")), user, start)?;
    let info = DeviceInfo {
        device_id: format!("{user}-phone"),
        user_id: user.into(),
        role: Role::AccountManager,
    };
    // A kept district's phone is registered and holds its stores already.
    if register {
        storage.add_device(&info, "bench phone", user.as_bytes(), start.0)?;
        // The admin tools' pull (the whole district, read straight from storage); the
        // phone works on its own territory.
        fieldsync_server::admin::pull_into(&local, storage, &info)?;
    }
    let mut stores = Vec::new();
    for id in local.document_ids(DocKind::Store)? {
        let store = local.store(&id)?;
        if store.territory == user {
            stores.push(store);
        }
    }
    stores.sort_by(|a, b| a.licence.cmp(&b.licence));
    Ok(Phone {
        local,
        clock,
        info,
        stores,
    })
}

/// One visit with check-in, check-out and a display check; returns the visit.
pub(super) fn visit(
    phone: &Phone,
    store: &Store,
    at: Timestamp,
    dice: &mut Dice,
) -> Fallible<DocId> {
    phone.clock.set(at);
    let id = phone.local.create_visit(NewVisit {
        store_id: store.id.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at,
            gps: Some(fix(store, dice)),
        },
        complaint_id: None,
    })?;
    let missing = if dice.below(9) == 0 { 4 } else { dice.below(2) };
    phone.local.record_display_check(
        &LocalStore::shelf_display_id(&store.id),
        &DisplayCheck {
            standards: DisplayStandard::ALL
                .into_iter()
                .map(|standard| StandardCheck {
                    standard,
                    verdict: if dice.below(12) == 0 {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    note: String::new(),
                    photos: vec![],
                })
                .collect(),
            products: (0..8u64)
                .map(|p| ProductOnDisplay {
                    sku: format!("69010280{:02}", p + 1),
                    name: format!("brand {p}"),
                    price_tag: p >= missing,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
    let out = Timestamp(at.0 + (10 + dice.below(25) as i64) * 60_000);
    phone.clock.set(out);
    phone.local.check_out_visit(
        &id,
        CheckPoint {
            at: out,
            gps: Some(fix(store, dice)),
        },
    )?;
    Ok(id)
}

pub(super) fn count(phone: &Phone, store: &Store, at: Timestamp, dice: &mut Dice) -> Fallible<()> {
    phone.clock.set(at);
    let id = phone.local.create_inventory_count(NewInventoryCount {
        store_id: store.id.clone(),
        lines: (0..5u64)
            .map(|l| NewCountLine {
                sku: format!("69010280{:02}", l + 1),
                name: format!("brand {l}"),
                book: 20 + dice.below(40) as i64,
            })
            .collect(),
    })?;
    let off = dice.below(6) == 0;
    let counted: Vec<(String, i64)> = phone
        .local
        .inventory_count(&id)?
        .lines
        .iter()
        .map(|l| {
            let delta = if off { -(l.book / 4) } else { 0 };
            (l.sku.clone(), l.book + delta)
        })
        .collect();
    phone.local.set_counted_many(&id, &counted)?;
    phone.local.finish_count(&id)?;
    Ok(())
}

#[derive(Default, Debug)]
pub(super) struct Seeded {
    pub(super) visits: usize,
    pub(super) counts: usize,
    pub(super) took: Duration,
    pub(super) push_took: Duration,
}

/// A year (`plan.days`) of one manager's work, pushed week by week.
pub(super) fn record_year(
    storage: &dyn SyncStorage,
    phone: &Phone,
    plan: &Plan,
    start: Timestamp,
    dice: &mut Dice,
    seeded: &mut Seeded,
) -> Fallible<()> {
    let calendar = fieldsync_core::FieldCalendar::default();
    // Each store gets `visits_per_month` days in each 4-week block, working days only.
    let mut events: Vec<(Timestamp, usize, bool)> = Vec::new();
    let blocks = (plan.days / 28).max(1);
    for block in 0..blocks {
        for (i, store) in phone.stores.iter().enumerate() {
            for _ in 0..plan.visits_per_month {
                let mut day = block * 28 + dice.below(28) as i64;
                let date = calendar.date(Timestamp(start.0 + day * DAY_MS));
                if date.weekday() == chrono::Weekday::Sun {
                    day += 1;
                }
                let at = Timestamp(
                    calendar
                        .start_of(calendar.date(Timestamp(start.0 + day * DAY_MS)))
                        .0
                        + (9 * 60 + dice.below(8 * 60) as i64) * 60_000,
                );
                events.push((at, i, false));
            }
            if store.functional_terminal {
                let day = block * 28 + 20;
                let at = Timestamp(
                    calendar
                        .start_of(calendar.date(Timestamp(start.0 + day * DAY_MS)))
                        .0
                        + 16 * 3_600_000,
                );
                events.push((at, i, true));
            }
        }
    }
    events.sort_by_key(|e| e.0.0);
    let end = Timestamp(start.0 + blocks * 28 * DAY_MS);
    // Weeks end at the field's midnight: ended at the time of day the run started, a week
    // would close in the middle of a working day, its last visits checked out after the
    // week's push is received (refused as a clock ahead of the server's).
    let mut week_end = calendar.start_of(calendar.date(start)).0 + 7 * DAY_MS;
    let mut i = 0;
    while i < events.len() {
        let mut j = i;
        while j < events.len() && events[j].0.0 < week_end {
            j += 1;
        }
        let week = &events[i..j];
        let started = Instant::now();
        phone.local.in_one_transaction(|_| {
            for &(at, s, is_count) in week {
                let store = &phone.stores[s];
                let made = if is_count {
                    count(phone, store, at, dice).map(|_| seeded.counts += 1)
                } else {
                    visit(phone, store, at, dice).map(|_| seeded.visits += 1)
                };
                made.map_err(|e| fieldsync_core::Error::invalid("bench", e.to_string()))?;
            }
            Ok(())
        })?;
        let pushed = Instant::now();
        let received = week_end.min(end.0 + DAY_MS);
        push_from(&phone.local, storage, &phone.info, &|| received)?;
        seeded.push_took += pushed.elapsed();
        seeded.took += started.elapsed();
        i = j;
        week_end += 7 * DAY_MS;
    }
    Ok(())
}

/// Seeds the district: users, stores, every manager's year; returns when the year began,
/// what was made and the first manager's phone (for the weeks offline).
pub(super) fn seed(
    backend: &str,
    storage: &dyn SyncStorage,
    dir: &Path,
    plan: &Plan,
    dice: &mut Dice,
) -> Fallible<(Timestamp, Seeded, Phone)> {
    let now = chrono::Utc::now().timestamp_millis();
    // The year ends two weeks ago, so the measured weeks offline fit before today.
    let start = Timestamp(now - (plan.days + 14 + 7 * plan.weeks_measured as i64 * 3) * DAY_MS);
    for m in 0..plan.managers {
        storage.add_user(
            &User {
                id: manager_id(m),
                role: Role::AccountManager,
                name: format!("经理 {}", m + 1),
            },
            start.0,
        )?;
    }
    storage.add_user(
        &User {
            id: "sup-bench".into(),
            role: Role::Supervisor,
            name: "督查".into(),
        },
        start.0,
    )?;
    let seeding = Instant::now();
    let office = Timestamp(start.0 - DAY_MS);
    let admin = AdminDevice::open_with_clock(dir, storage, std::sync::Arc::new(move || office))?;
    let import = import_stores(&admin, stores_csv(plan, dice).as_bytes())?;
    if !import.bad.is_empty() {
        return Err(format!("bad store rows:\n{import}").into());
    }
    drop(admin);
    println!(
        "{backend}: {} stores imported in {:.1} s",
        plan.managers * plan.stores,
        seeding.elapsed().as_secs_f64()
    );
    let mut seeded = Seeded::default();
    let mut first = None;
    for m in 0..plan.managers {
        let p = phone(dir, storage, &manager_id(m), start, true)?;
        record_year(storage, &p, plan, start, dice, &mut seeded)?;
        println!(
            "{backend}: {} recorded ({} visits, {} counts so far, {:.0} s)",
            manager_id(m),
            seeded.visits,
            seeded.counts,
            seeding.elapsed().as_secs_f64()
        );
        // Only the first phone is kept, for the weeks offline.
        if m == 0 {
            first = Some(p);
        }
    }
    seeded.took = seeding.elapsed();
    Ok((start, seeded, first.ok_or("no account manager")?))
}
