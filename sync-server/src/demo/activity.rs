//! The demo district's field activity: a few weeks of what account managers, and a
//! supervisor, would have recorded, made on phones of their own (core `LocalStore`s with a
//! clock set to each moment) and pushed through the server's write path like any phone's,
//! so the console opens on a living district.
//!
//! Deterministic in shape (a fixed dice), relative to today: about three weeks of routine
//! visits with GPS (a few out of the geofence), daily demo-street display checks with some
//! missing price tags (today's still to do for part of the street), an inventory count in
//! each functional terminal (a few off by more than 10%), rectification tasks (one overdue
//! per manager), complaints (one met, one breached), two scorecards of this month, and
//! photos of one visit ([`super::photos`]).

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use fieldsync_core::{
    CheckPoint, ComplaintEvent, ComplaintKind, Datum, DisplayCheck, DisplayStandard, DocKind,
    GpsFix, LocalStore, NewComplaint, NewCountLine, NewInventoryCount, NewScorecard, NewTask,
    NewVisit, ProductOnDisplay, Role, ScoreDimension, ScoreWeights, StandardCheck, Store,
    Timestamp, Verdict, VisitKind,
};

use super::phone::{phone, remove_phone, sync};
use super::{Dice, MANAGERS};
use crate::blobs::store::BlobStore;
use crate::error::AppResult;
use crate::storage::SyncStorage;

/// Weeks of routine visits before the current one.
const PAST_WEEKS: i64 = 3;
/// Days of demo-street checks, today included.
const CHECK_DAYS: i64 = 5;
/// The supervisor who signs the demo's scorecards.
pub const DEMO_SUPERVISOR: &str = "sup-liu";

/// What the activity seeding wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Activity {
    pub visits: usize,
    pub display_checks: usize,
    pub counts: usize,
    pub tasks: usize,
    pub complaints: usize,
    pub scorecards: usize,
    /// The market team's walks this week, the supervisor's spot checks this month.
    pub walks: usize,
    pub spot_checks: usize,
    /// Photos and thumbnails put in the server's blob store.
    pub photos: usize,
    /// Time the phones spent syncing (pushes judged by the server, feeds merged).
    pub sync_took: std::time::Duration,
}

/// A fix near the store: within a few tens of metres, or `far` (about 500 m off).
fn fix(store: &Store, dice: &mut Dice, far: bool) -> GpsFix {
    let spread = if far { 0.005 } else { 0.0003 };
    GpsFix {
        lat: store.location.lat + (dice.unit() - 0.5) * spread + if far { 0.004 } else { 0.0 },
        lng: store.location.lng + (dice.unit() - 0.5) * spread,
        accuracy_m: 5.0 + dice.unit() * 20.0,
        datum: Datum::Wgs84,
    }
}

/// Seeds the activity; `now` is the present and `calendar` the district's.
pub fn seed_activity(
    dir: &Path,
    storage: &dyn SyncStorage,
    calendar: &fieldsync_core::FieldCalendar,
    now: Timestamp,
    blobs: Option<&dyn BlobStore>,
) -> AppResult<Activity> {
    let mut done = Activity::default();
    let mut dice = Dice(20_261_205);
    let today = calendar.date(now);
    let first_week = fieldsync_core::FieldCalendar::week_start(today) - Duration::weeks(PAST_WEEKS);
    for (n, manager) in MANAGERS.iter().enumerate() {
        // The last manager's phone has been silent for days: the fleet page shows it, and
        // nothing it recorded since has reached the server.
        let last_sync = if n == MANAGERS.len() - 1 {
            now.0 - 5 * 86_400_000
        } else {
            now.0
        };
        let horizon = calendar.date(Timestamp(last_sync));
        let at = |day: NaiveDate, minutes: i64| -> Timestamp {
            Timestamp((calendar.start_of(day).0 + minutes * 60_000).min(last_sync - 60_000))
        };
        let am = phone(
            dir,
            storage,
            manager.id,
            Role::AccountManager,
            at(first_week, 8 * 60),
        )?;
        let synced = std::time::Instant::now();
        sync(storage, &am, last_sync)?;
        done.sync_took += synced.elapsed();
        let mut stores: Vec<Store> = Vec::new();
        for id in am.local.document_ids(DocKind::Store)? {
            stores.push(am.local.store(&id)?);
        }
        stores.sort_by(|a, b| a.licence.cmp(&b.licence));
        // Each event is (moment, what): made in time order so every clock stamp is monotone.
        let mut plan: Vec<(Timestamp, Event)> = Vec::new();
        let diligence = [0.9, 0.8, 0.7, 0.55][n % 4];
        for week in 0..=PAST_WEEKS {
            let monday = first_week + Duration::weeks(week);
            for (i, store) in stores.iter().enumerate() {
                let small_grocery = store.code().ends_with("Z3");
                let chance = if small_grocery { 0.15 } else { diligence };
                if dice.unit() >= chance {
                    continue;
                }
                let day = monday + Duration::days(dice.below(6) as i64);
                // Nothing after the phone's last sync (the silent one stopped days ago).
                if day > horizon {
                    continue;
                }
                let when = at(day, 9 * 60 + dice.below(8 * 60) as i64);
                let far = dice.below(14) == 0;
                plan.push((when, Event::Visit(i, far)));
            }
        }
        for back in (0..CHECK_DAYS).rev() {
            let day = today - Duration::days(back);
            if day > horizon {
                continue;
            }
            for (i, _) in stores.iter().enumerate().filter(|(_, s)| s.demo_street) {
                // Today's round is half done.
                if back == 0 && i % 2 == 0 {
                    continue;
                }
                plan.push((at(day, 8 * 60 + 30 + (i % 40) as i64 * 5), Event::Check(i)));
            }
        }
        for (i, _) in stores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.functional_terminal)
        {
            let day = today - Duration::days(1 + dice.below(20) as i64);
            plan.push((at(day, 15 * 60 + dice.below(120) as i64), Event::Count(i)));
        }
        plan.push((at(horizon - Duration::days(6), 11 * 60), Event::Tasks));
        plan.push((at(horizon - Duration::days(3), 10 * 60), Event::Complaints));
        plan.sort_by_key(|(t, _)| t.0);
        // One commit for the whole plan: a phone writes each edit durably, and thousands of
        // waits for the disk would make the demo slow to start for nothing.
        let mut last_visit = None;
        am.local
            .in_one_transaction(|_| -> fieldsync_core::Result<()> {
                for (when, event) in plan {
                    am.clock.set(when);
                    match event {
                        Event::Visit(i, far) => {
                            let store = &stores[i];
                            let id = am.local.create_visit(NewVisit {
                                store_id: store.id.clone(),
                                kind: VisitKind::Routine,
                                check_in: CheckPoint {
                                    at: when,
                                    gps: Some(fix(store, &mut dice, far)),
                                },
                                complaint_id: None,
                            })?;
                            let out = Timestamp(
                                (when.0 + (10 + dice.below(25) as i64) * 60_000).min(last_sync),
                            );
                            am.clock.set(out);
                            am.local.check_out_visit(
                                &id,
                                CheckPoint {
                                    at: out,
                                    gps: Some(fix(store, &mut dice, false)),
                                },
                            )?;
                            done.visits += 1;
                            last_visit = Some(id);
                        }
                        Event::Check(i) => {
                            let store = &stores[i];
                            // Some stores lack many tags: four or more is an R2 violation.
                            let missing = if i % 7 == 3 {
                                4 + dice.below(2)
                            } else {
                                dice.below(2)
                            };
                            let products = (0..8u64)
                                .map(|p| ProductOnDisplay {
                                    sku: format!("69010280{:02}", p + 1),
                                    name: BRANDS[p as usize % BRANDS.len()].into(),
                                    price_tag: p >= missing,
                                })
                                .collect();
                            let standards = DisplayStandard::ALL
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
                                .collect();
                            am.local.record_display_check(
                                &LocalStore::shelf_display_id(&store.id),
                                &DisplayCheck {
                                    standards,
                                    products,
                                    ..DisplayCheck::default()
                                },
                            )?;
                            done.display_checks += 1;
                        }
                        Event::Count(i) => {
                            let store = &stores[i];
                            let count = am.local.create_inventory_count(NewInventoryCount {
                                store_id: store.id.clone(),
                                lines: (0..5u64)
                                    .map(|l| NewCountLine {
                                        sku: format!("69010280{:02}", l + 1),
                                        name: BRANDS[l as usize % BRANDS.len()].into(),
                                        book: 20 + (dice.below(40) as i64),
                                    })
                                    .collect(),
                            })?;
                            let off = i % 4 == 1;
                            let lines = am.local.inventory_count(&count)?.lines;
                            let counted: Vec<(String, i64)> = lines
                                .iter()
                                .map(|l| {
                                    let delta = if off {
                                        -(l.book / 4)
                                    } else {
                                        dice.below(3) as i64 - 1
                                    };
                                    (l.sku.clone(), (l.book + delta).max(0))
                                })
                                .collect();
                            am.local.set_counted_many(&count, &counted)?;
                            am.local.finish_count(&count)?;
                            done.counts += 1;
                        }
                        Event::Tasks => {
                            for (k, (title, days)) in [
                                ("价签补齐 replace missing price tags", 2),
                                ("柜台整理 tidy the counter", 9),
                                ("新品专区 set up the new-product zone", 14),
                            ]
                            .into_iter()
                            .enumerate()
                            {
                                let store = &stores[(k * 17 + n) % stores.len()];
                                am.local.create_task(NewTask {
                                    store_id: store.id.clone(),
                                    title: title.into(),
                                    description: String::new(),
                                    assignee: manager.id.into(),
                                    deadline: Timestamp(when.0 + days * 86_400_000),
                                    origin: None,
                                })?;
                                done.tasks += 1;
                            }
                        }
                        Event::Complaints => {
                            let store = &stores[(n * 5 + 2) % stores.len()];
                            let met = am.local.create_complaint(NewComplaint {
                                store_id: store.id.clone(),
                                kind: ComplaintKind::Complaint,
                                received_at: when,
                                description: "零售户反映到货条烟破损 cartons arrived torn".into(),
                            })?;
                            for (event, minutes) in [
                                (ComplaintEvent::OnSite, 40),
                                (ComplaintEvent::Handled, 24 * 60),
                                (ComplaintEvent::Callback, 36 * 60),
                            ] {
                                let t = Timestamp(when.0 + minutes * 60_000);
                                am.clock.set(t);
                                am.local.record_complaint_event(&met, event, t, "")?;
                            }
                            // Received a day later and never answered: its clocks breach.
                            let later = at(horizon - Duration::days(2), 10 * 60 + 30);
                            am.clock.set(later);
                            let other = &stores[(n * 5 + 3) % stores.len()];
                            am.local.create_complaint(NewComplaint {
                                store_id: other.id.clone(),
                                kind: ComplaintKind::Complaint,
                                received_at: later,
                                description: "价格标签与实际不符 price tag does not match".into(),
                            })?;
                            done.complaints += 2;
                        }
                    }
                }
                Ok(())
            })?;
        // The first manager's last visit has photos (one of them not uploaded yet).
        let photographed = match (n, &last_visit) {
            (0, Some(visit)) => super::photos::take(&am, visit)?,
            _ => Vec::new(),
        };
        let synced = std::time::Instant::now();
        sync(storage, &am, last_sync)?;
        done.sync_took += synced.elapsed();
        if let Some(blobs) = blobs {
            super::photos::upload(&am, storage, blobs, &photographed)?;
            done.photos += photographed.len();
        }
        drop(am);
        remove_phone(dir, manager.id);
    }
    // Two scorecards of this month: one with the bonus, one below the pass mark.
    let sup = phone(
        dir,
        storage,
        DEMO_SUPERVISOR,
        Role::Supervisor,
        Timestamp(now.0 - 3_600_000),
    )?;
    let synced = std::time::Instant::now();
    sync(storage, &sup, now.0)?;
    done.sync_took += synced.elapsed();
    let month = format!("{}-{:02}", today.year(), today.month());
    for (manager, scores) in [
        (MANAGERS[0].id, [24.0, 23.0, 22.0, 23.0]),
        (MANAGERS[3].id, [15.0, 20.0, 18.0, 21.0]),
    ] {
        let card = sup.local.create_scorecard(NewScorecard {
            manager: manager.into(),
            month: month.clone(),
            weights: ScoreWeights::default(),
        })?;
        for (dimension, score) in ScoreDimension::ALL.into_iter().zip(scores) {
            sup.local.score_dimension(&card, dimension, score)?;
        }
        done.scorecards += 1;
    }
    done.spot_checks = super::cadences::seed_spot_checks(&sup, calendar, now)?;
    let synced = std::time::Instant::now();
    sync(storage, &sup, now.0)?;
    done.sync_took += synced.elapsed();
    drop(sup);
    remove_phone(dir, DEMO_SUPERVISOR);
    done.walks = super::cadences::seed_walks(dir, storage, calendar, now)?;
    Ok(done)
}

enum Event {
    Visit(usize, bool),
    Check(usize),
    Count(usize),
    Tasks,
    Complaints,
}

const BRANDS: [&str; 6] = [
    "利群(新版)",
    "中华(硬)",
    "黄鹤楼(软蓝)",
    "芙蓉王(硬)",
    "南京(炫赫门)",
    "云烟(紫)",
];
