//! A district seeded through the real write path, for `district_sync_bench` (the console's
//! `district_bench` still seeds with a copy of its own, `district_bench/seed.rs`).
//!
//! Stores come from a CSV through `import_stores` (the admin device, pushed). Each account
//! manager has a phone (a core `LocalStore` with a clock set to each moment) that records
//! its year in time order: every store visited `visits_per_month` times a month on working
//! days (check-in and check-out with GPS, a shelf photo's reference, and a display check
//! of the store's shelf display on each visit; one visit in 200 uses its store's stock
//! photo again, which `admin report` flags), and a monthly count of 5 lines in each
//! functional terminal (about one store in eight). The phone saves a week in one local transaction (one wait for its disk
//! instead of hundreds: the same documents and changes) and pushes that week through the
//! server's push (`admin::push_from`: parsing, actor binding, write rules, storage),
//! received at the week's end.
//!
//! Each manager's stores and year are drawn from dice of that manager alone, so a server
//! seeded with the first manager only holds exactly the first territory of a district.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Datelike;
use fieldsync_core::fixtures::{ManualClock, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{
    CheckPoint, Datum, DisplayCheck, DisplayStandard, DocId, DocKind, GpsFix, LocalStore,
    NewCountLine, NewInventoryCount, NewVisit, ProductOnDisplay, Role, StandardCheck, Store,
    Timestamp, Verdict, VisitKind,
};
use fieldsync_server::admin::import::{COLUMNS, import_stores};
use fieldsync_server::admin::{AdminDevice, push_from};
use fieldsync_server::storage::{DeviceInfo, SyncStorage, User};

pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

pub const DAY_MS: i64 = 86_400_000;

/// What a district holds.
#[derive(Clone, Debug)]
pub struct District {
    pub managers: usize,
    pub stores: usize,
    pub days: i64,
    pub visits_per_month: usize,
    /// One store in this many is on a demo street (the market team's scope); 0: none.
    pub demo_street_one_in: u64,
}

/// A small deterministic dice, so that every run makes the same district.
#[derive(Debug)]
pub struct Dice(pub u64);

impl Dice {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

/// The dice of manager `m`'s stores and year.
fn manager_dice(m: usize) -> Dice {
    Dice(20_261_205 + 7_919 * m as u64)
}

pub fn manager_id(m: usize) -> String {
    format!("am-{:02}", m + 1)
}

fn stores_csv(district: &District) -> String {
    let mut out = COLUMNS.join(",");
    for m in 0..district.managers {
        let dice = &mut manager_dice(m);
        let (lat0, lng0) = (30.2 + m as f64 * 0.01, 120.1 + m as f64 * 0.01);
        for s in 0..district.stores {
            let functional = dice.below(8) == 0;
            let format = ["Z", "B", "Y", "S", "F"][dice.below(5) as usize];
            let demo = district.demo_street_one_in > 0
                && (s as u64) % district.demo_street_one_in == district.demo_street_one_in / 2;
            out.push_str(&format!(
                "\n33010{m:02}{s:04},店{m}-{s},店主{s},1380000{s:04},路{s}号,{:.6},{:.6},{format},C,{},{},{},{},{},{},{}",
                lat0 + dice.unit() * 0.03,
                lng0 + dice.unit() * 0.03,
                1 + dice.below(3),
                ["A", "B", "C"][dice.below(3) as usize],
                20 + dice.below(500),
                if demo { 1 } else { 0 },
                if functional { 1 } else { 0 },
                if functional { "good" } else { "" },
                manager_id(m),
            ));
        }
    }
    out
}

fn fix(store: &Store, dice: &mut Dice) -> GpsFix {
    GpsFix {
        lat: store.location.lat + (dice.unit() - 0.5) * 0.0003,
        lng: store.location.lng + (dice.unit() - 0.5) * 0.0003,
        accuracy_m: 5.0 + dice.unit() * 20.0,
        datum: Datum::Wgs84,
    }
}

/// A seeding phone of `user`, registered with the server and filled once (its stores and
/// their displays).
#[derive(Debug)]
pub struct Phone {
    pub local: LocalStore,
    pub clock: ManualClock,
    pub info: DeviceInfo,
    pub stores: Vec<Store>,
}

fn phone(dir: &Path, storage: &dyn SyncStorage, user: &str, start: Timestamp) -> Fallible<Phone> {
    let (local, clock) = device(dir.join(format!("{user}.db")), user, start)?;
    let info = DeviceInfo {
        device_id: format!("{user}-phone"),
        user_id: user.into(),
        role: Role::AccountManager,
    };
    storage.add_device(&info, "bench phone", user.as_bytes(), start.0)?;
    fill(&local, storage, &info)?;
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

/// The phone's first fill: its scope (its territory) through the server's feed, as a
/// sync pulls it, without HTTP.
fn fill(local: &LocalStore, storage: &dyn SyncStorage, info: &DeviceInfo) -> Fallible<()> {
    // Bounded: each round advances the cursor, and the log ends.
    for _ in 0..1_000_000 {
        let cursor = FeedCursor::parse(local.sync_cursor()?.as_deref())?;
        let feed = storage.feed(info, &cursor, 8 << 20, &Default::default())?;
        for doc in &feed.changes {
            let id = DocId::parse("doc", &doc.doc)?;
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            local.merge_from_server(&id, &changes)?;
        }
        local.set_sync_cursor(&feed.cursor.to_string())?;
        if !feed.more {
            return Ok(());
        }
    }
    Err("the feed did not end".into())
}

/// The hash of the shelf photo a visit carries: its own, or in one visit of 200 the store's
/// stock photo used again (what `admin report` flags). Drawn from the ids, not the dice, so
/// the rest of the district is what it was before visits had photos. Only the reference is
/// stored: no photo bytes are uploaded.
fn shelf_photo(visit: &DocId, store: &DocId) -> String {
    use std::hash::{Hash, Hasher};
    let draw = |of: &str, k: u64| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (of, k).hash(&mut h);
        h.finish()
    };
    let of = if draw(visit.as_str(), 99) % 200 == 0 {
        store.as_str()
    } else {
        visit.as_str()
    };
    let hex: String = (0..4).map(|k| format!("{:016x}", draw(of, k))).collect();
    format!("sha256:{hex}")
}

/// One visit of `kind` with check-in, a shelf photo, check-out and a display check;
/// returns the visit.
pub fn visit(
    local: &LocalStore,
    clock: &ManualClock,
    store: &Store,
    kind: VisitKind,
    at: Timestamp,
    dice: &mut Dice,
) -> Fallible<DocId> {
    clock.set(at);
    let id = local.create_visit(NewVisit {
        store_id: store.id.clone(),
        kind,
        check_in: CheckPoint {
            at,
            gps: Some(fix(store, dice)),
        },
        complaint_id: None,
    })?;
    let missing = if dice.below(9) == 0 { 4 } else { dice.below(2) };
    local.record_display_check(
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
    local.add_visit_photo(&id, &shelf_photo(&id, &store.id), "shelf")?;
    let out = Timestamp(at.0 + (10 + dice.below(25) as i64) * 60_000);
    clock.set(out);
    local.check_out_visit(
        &id,
        CheckPoint {
            at: out,
            gps: Some(fix(store, dice)),
        },
    )?;
    Ok(id)
}

fn count(phone: &Phone, store: &Store, at: Timestamp, dice: &mut Dice) -> Fallible<()> {
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

/// What seeding made and how long it took.
#[derive(Default, Debug)]
pub struct Seeded {
    pub visits: usize,
    pub counts: usize,
    pub took: Duration,
    pub push_took: Duration,
}

/// A year (`district.days`) of one manager's work, pushed week by week.
fn record_year(
    storage: &dyn SyncStorage,
    phone: &Phone,
    district: &District,
    start: Timestamp,
    dice: &mut Dice,
    seeded: &mut Seeded,
) -> Fallible<()> {
    let calendar = fieldsync_core::FieldCalendar::default();
    // Each store gets `visits_per_month` days in each 4-week block, working days only.
    let mut events: Vec<(Timestamp, usize, bool)> = Vec::new();
    let blocks = (district.days / 28).max(1);
    let at = |day: i64, minutes: i64| {
        let date = calendar.date(Timestamp(start.0 + day * DAY_MS));
        Timestamp(calendar.start_of(date).0 + minutes * 60_000)
    };
    for block in 0..blocks {
        for (i, store) in phone.stores.iter().enumerate() {
            for _ in 0..district.visits_per_month {
                let mut day = block * 28 + dice.below(28) as i64;
                let date = calendar.date(Timestamp(start.0 + day * DAY_MS));
                if date.weekday() == chrono::Weekday::Sun {
                    day += 1;
                }
                events.push((at(day, 9 * 60 + dice.below(8 * 60) as i64), i, false));
            }
            if store.functional_terminal {
                events.push((at(block * 28 + 20, 16 * 60), i, true));
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
                    visit(
                        &phone.local,
                        &phone.clock,
                        store,
                        VisitKind::Routine,
                        at,
                        dice,
                    )
                    .map(|_| seeded.visits += 1)
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

/// Seeds `district` into `storage` (its users, its stores, each manager's year starting at
/// `start`, the admin device's store in `dir`); returns what was made and the first
/// manager's seeding phone, kept for more work.
pub fn seed(
    backend: &str,
    storage: &dyn SyncStorage,
    dir: &Path,
    district: &District,
    start: Timestamp,
) -> Fallible<(Seeded, Phone)> {
    for m in 0..district.managers {
        let user = User {
            id: manager_id(m),
            role: Role::AccountManager,
            name: format!("经理 {}", m + 1),
        };
        storage.add_user(&user, start.0)?;
    }
    let seeding = Instant::now();
    let office = Timestamp(start.0 - DAY_MS);
    let admin = AdminDevice::open_with_clock(dir, storage, std::sync::Arc::new(move || office))?;
    let import = import_stores(&admin, stores_csv(district).as_bytes())?;
    if !import.bad.is_empty() {
        return Err(format!("bad store rows:\n{import}").into());
    }
    drop(admin);
    println!(
        "{backend}: {} stores imported in {:.1} s",
        district.managers * district.stores,
        seeding.elapsed().as_secs_f64()
    );
    // Every phone takes its stores before any year is pushed.
    let mut phones = Vec::new();
    for m in 0..district.managers {
        phones.push(phone(dir, storage, &manager_id(m), start)?);
    }
    let mut seeded = Seeded::default();
    let mut first = None;
    for (m, phone) in phones.into_iter().enumerate() {
        // The stores' dice are spent; the year's dice are the manager's own too.
        let mut dice = Dice(manager_dice(m).next() ^ 0x5eed);
        record_year(storage, &phone, district, start, &mut dice, &mut seeded)?;
        println!(
            "{backend}: {} recorded ({} visits, {} counts so far, {:.0} s)",
            manager_id(m),
            seeded.visits,
            seeded.counts,
            seeding.elapsed().as_secs_f64()
        );
        if first.is_none() {
            first = Some(phone);
        }
    }
    seeded.took = seeding.elapsed();
    Ok((seeded, first.ok_or("a district has at least one manager")?))
}
