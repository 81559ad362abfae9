//! The end of a field day: every device of the district has a day's edits on it and syncs
//! once, each starting at a moment drawn by the dice within the spread (say 60 s), all
//! against the one server. What is measured is each sync, from its start to its end (the
//! push of the day, and the pull of what the others pushed before it).
//!
//! A day's edits, by role: an account manager visits 12 of its stores (a visit with a
//! display check each, half an hour apart from 9:00); the market team walks through 8
//! demo-street stores; a supervisor makes 4 spot checks anywhere in the district. They are
//! made before the spread begins (the phone records them during the day) and are not timed.

use std::time::{Duration, Instant};

use fieldsync_core::{DocKind, Role, Store, Timestamp, VisitKind};

use super::bench::{Timing, timing};
use super::devices::Device;
use super::seed::{Dice, Fallible, visit};

/// The stores a device of `role` works in on a day: its territory's, the demo street's,
/// or any.
fn stores_of(device: &Device) -> Fallible<Vec<Store>> {
    let mut stores = Vec::new();
    for id in device.local.document_ids(DocKind::Store)? {
        let store = device.local.store(&id)?;
        let mine = match device.role {
            Role::AccountManager => store.territory == device.user,
            Role::MarketTeam => store.demo_street,
            Role::Supervisor | Role::Admin => true,
        };
        if mine {
            stores.push(store);
        }
    }
    stores.sort_by(|a, b| a.licence.cmp(&b.licence));
    Ok(stores)
}

/// Records `device`'s day (see the module's text) on the day starting at `morning`;
/// returns the visits made.
pub fn record_day(device: &Device, morning: Timestamp, dice: &mut Dice) -> Fallible<usize> {
    let (visits, kind) = match device.role {
        Role::AccountManager => (12, VisitKind::Routine),
        Role::MarketTeam => (8, VisitKind::MarketWalkthrough),
        Role::Supervisor => (4, VisitKind::SupervisionSpotCheck),
        // Admins record no visits (`VisitKind::recorded_by`).
        Role::Admin => return Ok(0),
    };
    let stores = stores_of(device)?;
    if stores.is_empty() {
        return Err(format!("`{}` has no stores to visit", device.user).into());
    }
    device.local.in_one_transaction(|local| {
        let mut made = || -> Fallible<()> {
            for v in 0..visits {
                let store = &stores[dice.below(stores.len() as u64) as usize];
                let at = Timestamp(morning.0 + 9 * 3_600_000 + v * 1_800_000);
                visit(local, &device.clock, store, kind, at, dice)?;
            }
            Ok(())
        };
        made().map_err(|e| fieldsync_core::Error::invalid("bench", e.to_string()))
    })?;
    Ok(visits as usize)
}

/// One device's sync at the end of the day.
#[derive(Debug, serde::Serialize)]
pub struct DeviceSync {
    pub user: String,
    pub role: String,
    pub started_at_ms: u64,
    pub ms: f64,
    pub docs_pushed: usize,
    pub docs_pulled: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct EndOfDay {
    pub devices: usize,
    pub spread_seconds: f64,
    pub visits_made: usize,
    pub sync: Timing,
    pub wall_seconds: f64,
    pub syncs: Vec<DeviceSync>,
}

/// Every device syncs once, each starting at its moment within `spread`.
pub async fn spread_syncs(
    devices: &[Device],
    spread: Duration,
    visits_made: usize,
    dice: &mut Dice,
) -> Fallible<EndOfDay> {
    let spread_ms = (spread.as_millis() as u64).max(1);
    let offsets: Vec<u64> = devices.iter().map(|_| dice.below(spread_ms)).collect();
    let began = tokio::time::Instant::now();
    let wall = Instant::now();
    let runs = devices
        .iter()
        .zip(&offsets)
        .map(|(device, &offset)| async move {
            tokio::time::sleep_until(began + Duration::from_millis(offset)).await;
            let started = Instant::now();
            let report = device.sync().await?;
            Ok::<_, Box<dyn std::error::Error>>(DeviceSync {
                user: device.user.clone(),
                role: device.role.code().into(),
                started_at_ms: offset,
                ms: started.elapsed().as_secs_f64() * 1000.0,
                docs_pushed: report.docs_pushed,
                docs_pulled: report.docs_pulled,
            })
        });
    let mut syncs = Vec::new();
    for done in futures_util::future::join_all(runs).await {
        syncs.push(done?);
    }
    syncs.sort_by_key(|s| s.started_at_ms);
    let times = syncs
        .iter()
        .map(|s| Duration::from_secs_f64(s.ms / 1000.0))
        .collect();
    Ok(EndOfDay {
        devices: devices.len(),
        spread_seconds: spread.as_secs_f64(),
        visits_made,
        sync: timing(times),
        wall_seconds: wall.elapsed().as_secs_f64(),
        syncs,
    })
}
