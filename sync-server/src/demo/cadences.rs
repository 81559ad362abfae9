//! The demo's market team and supervisor in the stores: the market team's walk of most of
//! the demo street this week (R5), and the supervisor's spot checks this month in two of
//! the four account managers' territories, one of them on the demo street (R4, R5's
//! sample). So the console's cadence columns show something met and something owed.

use std::path::Path;

use fieldsync_core::{
    CheckPoint, DocKind, FieldCalendar, NewVisit, Role, Store, Timestamp, VisitKind,
};

use super::MANAGERS;
use super::phone::{Phone, phone, remove_phone, sync};
use crate::error::AppResult;
use crate::storage::SyncStorage;

/// The demo's market-team user (`demo_users`).
pub const DEMO_MARKET_TEAM: &str = "mk-zhao";

/// The stores `phone` holds, by licence.
fn stores(phone: &Phone) -> AppResult<Vec<Store>> {
    let mut stores = Vec::new();
    for id in phone.local.document_ids(DocKind::Store)? {
        stores.push(phone.local.store(&id)?);
    }
    stores.sort_by(|a, b| a.licence.cmp(&b.licence));
    Ok(stores)
}

/// Visits `store` with a visit of `kind` checked in at `at`.
fn visit(phone: &Phone, store: &Store, kind: VisitKind, at: Timestamp) -> AppResult<()> {
    phone.clock.set(at);
    phone.local.create_visit(NewVisit {
        store_id: store.id.clone(),
        kind,
        check_in: CheckPoint { at, gps: None },
        complaint_id: None,
    })?;
    Ok(())
}

/// `hours` before `now`, but not before `period` began (a demo seeded early on a Monday or
/// on the 1st still shows this week's walks and this month's spot checks), nor at `now`.
fn earlier(now: Timestamp, hours: i64, period: Timestamp) -> Timestamp {
    Timestamp((now.0 - hours * 3_600_000).max(period.0).min(now.0 - 1_000))
}

/// The market team walked two demo-street stores in three this week, in the last hours;
/// returns the walks made.
pub(super) fn seed_walks(
    dir: &Path,
    storage: &dyn SyncStorage,
    calendar: &FieldCalendar,
    now: Timestamp,
) -> AppResult<usize> {
    let week = calendar.start_of(FieldCalendar::week_start(calendar.date(now)));
    let start = earlier(now, 3, week);
    let mk = phone(dir, storage, DEMO_MARKET_TEAM, Role::MarketTeam, start)?;
    sync(storage, &mk, now.0)?;
    let mut walks = 0;
    for (i, store) in stores(&mk)?.iter().enumerate() {
        if !store.demo_street || i % 3 == 2 {
            continue;
        }
        let at = Timestamp((start.0 + i as i64 * 60_000).min(now.0 - 1_000));
        visit(&mk, store, VisitKind::MarketWalkthrough, at)?;
        walks += 1;
    }
    sync(storage, &mk, now.0)?;
    drop(mk);
    remove_phone(dir, DEMO_MARKET_TEAM);
    Ok(walks)
}

/// The supervisor's spot checks on `sup`, an hour ago (this month): two stores of the
/// first account manager, one on the demo street, and one store of the second; the other
/// two managers are owed theirs. Returns the spot checks made (the caller syncs).
pub(super) fn seed_spot_checks(
    sup: &Phone,
    calendar: &FieldCalendar,
    now: Timestamp,
) -> AppResult<usize> {
    let month = calendar.start_of(FieldCalendar::month_start(calendar.date(now)));
    let at = earlier(now, 1, month);
    let all = stores(sup)?;
    let of = |n: usize| all.iter().filter(move |s| s.territory == MANAGERS[n].id);
    let picked = [
        of(0).find(|s| s.demo_street),
        of(0).find(|s| !s.demo_street),
        of(1).find(|s| !s.demo_street),
    ];
    let mut made = 0;
    for store in picked.into_iter().flatten() {
        visit(sup, store, VisitKind::SupervisionSpotCheck, at)?;
        made += 1;
    }
    Ok(made)
}
