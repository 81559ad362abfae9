//! A year of an account manager's territory, recorded as the manager's phone would have
//! recorded it: every working day a round of visits ([`crate::field_day::record_day`]:
//! each checks the store's shelf display and counts 30 lines), synced with core's client
//! every few days. After it the server holds the visits with their counts and the shelf
//! displays with a year of checks, which is what a new phone of the territory downloads.
//!
//! [`record_week`] is a week of the same work done offline, plus edits to older documents.
//!
//! A day is saved in one local transaction (one wait for the disk instead of a few hundred),
//! which is how a bulk of history can be made in minutes; the documents and changes are
//! the same as a day of separate saves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use fieldsync_core::fixtures::ManualClock;
use fieldsync_core::{DisplayStandard, DocId, DocKind, LocalStore, Timestamp, Verdict};

use crate::client_device::ClientDevice;
use crate::field_day::{DayPlan, record_day};
use crate::server::{HarnessError, HarnessResult};

/// A week offline: days of it, visits a day, and older documents edited (visits whose
/// notes get a line, displays of stores not visited that week that get a standard marked).
pub const WEEK_DAYS: usize = 5;
pub const WEEK_VISITS_PER_DAY: usize = 12;
pub const OLDER_EDITS: usize = 10;

/// How much history to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YearPlan {
    pub visits: usize,
    pub visits_per_day: usize,
    pub count_lines: usize,
    /// Days between syncs.
    pub sync_every_days: usize,
}

impl YearPlan {
    /// About 15,000 visits (a visit per store and week for 300 stores), 60 a working day.
    pub fn year() -> YearPlan {
        YearPlan {
            visits: 15_000,
            visits_per_day: 60,
            count_lines: 30,
            sync_every_days: 5,
        }
    }

    pub fn days(&self) -> usize {
        self.visits.div_ceil(self.visits_per_day.max(1))
    }
}

/// What recording the year took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub days: usize,
    pub visits: usize,
    /// Local edits (one Automerge change each).
    pub edits: usize,
    pub syncs: usize,
    /// Time spent recording on the phone, and syncing.
    pub recording: Duration,
    pub syncing: Duration,
    /// Bytes the phone's syncs sent, as its client counted them.
    pub bytes_sent: u64,
}

/// The day (0, 1, ...) of the year that starts at `start`, at 08:00 of that day.
pub fn day_start(start: Timestamp, day: usize) -> Timestamp {
    Timestamp(start.0 + day as i64 * 86_400_000 + 8 * 3_600_000)
}

/// Records `plan` on `device` over `stores`, from `start`; `progress` gets a line now and
/// then (the full year takes minutes).
pub async fn record_year(
    device: &ClientDevice,
    stores: &[DocId],
    plan: YearPlan,
    start: Timestamp,
    progress: &dyn Fn(&str),
) -> HarnessResult<Recorded> {
    let stores = Arc::new(stores.to_vec());
    let mut done = Recorded::default();
    let days = plan.days();
    for day in 0..days {
        device.clock.set(day_start(start, day));
        let visits = plan.visits_per_day.min(plan.visits - done.visits);
        let day_plan = DayPlan {
            visits,
            count_lines: plan.count_lines,
        };
        let (local, stores) = (device.local.clone(), stores.clone());
        let began = Instant::now();
        let work = tokio::task::spawn_blocking(move || {
            local.in_one_transaction(|s| record_day(s, &stores, day, day_plan))
        })
        .await
        .map_err(|e| HarnessError(format!("recording day {day}: {e}")))?
        .map_err(|e| HarnessError(format!("recording day {day}: {e}")))?;
        done.recording += began.elapsed();
        done.days += 1;
        done.visits += work.visits.len();
        done.edits += work.edits;
        if (day + 1) % plan.sync_every_days.max(1) == 0 || day + 1 == days {
            let began = Instant::now();
            let report = device.sync().await?;
            done.syncing += began.elapsed();
            done.syncs += 1;
            done.bytes_sent += report.bytes_sent;
            progress(&format!(
                "  day {:>3}/{days}: {:>6} visits recorded and synced; {:.0} s recording, {:.0} s syncing",
                day + 1,
                done.visits,
                done.recording.as_secs_f64(),
                done.syncing.as_secs_f64()
            ));
        }
    }
    Ok(done)
}

/// A week of work offline: `WEEK_DAYS` days of visits starting at visit round `first_round`
/// (see `record_day`), notes on `OLDER_EDITS` older visits from position `older` on, and a
/// standard marked on the displays of `OLDER_EDITS` stores from `older` on, which the week
/// does not visit.
pub fn record_week(
    local: &LocalStore,
    clock: &ManualClock,
    stores: &[DocId],
    first_round: usize,
    older: usize,
    start: Timestamp,
) -> fieldsync_core::Result<usize> {
    clock.set(start);
    let visits = local.document_ids(DocKind::Visit)?;
    let stride = (visits.len() / OLDER_EDITS).max(1);
    for i in 0..OLDER_EDITS {
        if let Some(visit) = visits.get((older + i * stride) % visits.len().max(1)) {
            local.append_visit_notes(visit, " Owner called back: wants the slim packs.")?;
        }
    }
    let week: BTreeSet<usize> = (0..WEEK_DAYS * WEEK_VISITS_PER_DAY)
        .map(|i| (first_round * WEEK_VISITS_PER_DAY + i) % stores.len())
        .collect();
    let mut marked = 0;
    for n in (older..).take(stores.len()) {
        if marked == OLDER_EDITS {
            break;
        }
        if week.contains(&(n % stores.len())) {
            continue;
        }
        let display = LocalStore::shelf_display_id(&stores[n % stores.len()]);
        local.mark_display_standard(
            &display,
            DisplayStandard::TidyCounter,
            Verdict::Fail,
            "counter cluttered",
        )?;
        marked += 1;
    }
    let mut recorded = 0;
    for day in 0..WEEK_DAYS {
        clock.set(Timestamp(start.0 + day as i64 * 86_400_000));
        let plan = DayPlan {
            visits: WEEK_VISITS_PER_DAY,
            count_lines: 30,
        };
        recorded += record_day(local, stores, first_round + day, plan)?
            .visits
            .len();
    }
    Ok(recorded)
}
