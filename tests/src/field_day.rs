//! A realistic day of an account manager, recorded on the phone through core's API: each
//! visit checks the store's shelf display and counts its stock.
//!
//! One visit, as the app writes it: the visit is created at check-in (with a GPS fix by
//! the store); the shelf display is started the first time the store is visited and gets
//! one check of all eight standards and a few products; an inventory count is started with
//! [`DayPlan::count_lines`] lines, counted in one change and finished; the visit is linked
//! to both, gets notes, and is checked out 40 minutes later. That is eight or nine changes
//! per visit, each its own local transaction as on a phone.

use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, DocId, GpsFix, LocalStore, NewCountLine,
    NewInventoryCount, NewVisit, ProductOnDisplay, Result, StandardCheck, Timestamp, Verdict,
    VisitKind,
};

/// How much one day holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayPlan {
    pub visits: usize,
    pub count_lines: usize,
}

impl Default for DayPlan {
    fn default() -> Self {
        DayPlan {
            visits: 8,
            count_lines: 30,
        }
    }
}

/// What a recorded day left in the phone's outbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayWork {
    pub visits: Vec<DocId>,
    /// Documents created or edited.
    pub documents: usize,
    /// Local edits (one Automerge change each).
    pub edits: usize,
}

/// The notes a visit gets: derived from its id, so a reader can check them.
pub fn visit_notes(visit: &DocId) -> String {
    format!("display checked, stock counted; visit `{visit}`")
}

/// Records day number `day` (0, 1, ...) on `local`: visits go round `stores`, starting
/// where the previous day stopped.
pub fn record_day(
    local: &LocalStore,
    stores: &[DocId],
    day: usize,
    plan: DayPlan,
) -> Result<DayWork> {
    let mut work = DayWork::default();
    if stores.is_empty() {
        return Ok(work);
    }
    // The day is recorded as it ends: its visits checked in over the hours before the
    // device's clock (a check-in ahead of that clock is refused), 50 minutes apart.
    let start = local.now()?.0 - plan.visits as i64 * 50 * 60_000;
    for i in 0..plan.visits {
        let store = &stores[(day * plan.visits + i) % stores.len()];
        let place = local.store(store)?.location;
        let fix = GpsFix::wgs84(place.lat + 0.0002, place.lng, 10.0);
        let check_in = Timestamp(start + i as i64 * 50 * 60_000);
        let visit = local.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: check_in,
                gps: Some(fix),
            },
            complaint_id: None,
        })?;
        work.edits += 1;
        let display = LocalStore::shelf_display_id(store);
        if local.kind_of(&display).is_err() {
            local.create_shelf_display(store)?;
            work.edits += 1;
        }
        local.record_display_check(&display, &display_check(i))?;
        work.edits += 1;
        let count = local.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: (0..plan.count_lines)
                .map(|n| NewCountLine {
                    sku: format!("sku-{n:03}"),
                    name: format!("Product {n}"),
                    book: 20 + (n as i64 % 7),
                })
                .collect(),
        })?;
        let counted: Vec<(String, i64)> = (0..plan.count_lines)
            .map(|n| (format!("sku-{n:03}"), 20 + ((n + i) as i64 % 9)))
            .collect();
        local.set_counted_many(&count, &counted)?;
        local.finish_count(&count)?;
        local.link_visit(&visit, Some(&display), Some(&count))?;
        local.set_visit_notes(&visit, &visit_notes(&visit))?;
        local.check_out_visit(
            &visit,
            CheckPoint {
                at: Timestamp(check_in.0 + 40 * 60_000),
                gps: Some(fix),
            },
        )?;
        work.edits += 6;
        work.documents += 3;
        work.visits.push(visit);
    }
    Ok(work)
}

/// A check of all eight standards (one fails now and then) and four products.
fn display_check(n: usize) -> DisplayCheck {
    DisplayCheck {
        standards: DisplayStandard::ALL
            .iter()
            .enumerate()
            .map(|(k, s)| StandardCheck {
                standard: *s,
                verdict: if (n + k).is_multiple_of(11) {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                },
                note: String::new(),
                photos: Vec::new(),
            })
            .collect(),
        products: (0..4)
            .map(|p| ProductOnDisplay {
                sku: format!("sku-{p:03}"),
                name: format!("Product {p}"),
                price_tag: !(n + p).is_multiple_of(5),
            })
            .collect(),
        ..DisplayCheck::default()
    }
}
