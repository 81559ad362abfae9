//! One account manager's row of the report, and the district-wide facts every row is
//! computed from (each store's territory and flags, the month's complaint clocks).

use std::collections::HashMap;

use fieldsync_core::{
    ClockState, DocId, DocKind, FieldCalendar, LocalStore, Timestamp, TrainingActivity,
};

use super::{ManagerRow, ReportOptions};
use crate::admin::damaged::{Unreadable, readable};
use crate::error::AppResult;

/// What the report needs to know of each store, read once.
#[derive(Debug)]
struct StoreFacts {
    territory: String,
    demo_street: bool,
}

/// The district-wide facts every manager's row is computed from: each store's territory
/// and flags now (from the index), and R9's clocks by the territory that held their store
/// when it counted (see [`month_clocks`]).
#[derive(Debug)]
pub struct District {
    stores: HashMap<DocId, StoreFacts>,
    /// R9's breached clocks of the month, by the territory that held the store when each
    /// fell due.
    pub breached: HashMap<String, usize>,
    /// R9's met clocks of the month, by the territory that held the store when each fell
    /// due (the console shows them beside).
    pub met: HashMap<String, usize>,
    /// R9's clocks running at the end of `--day`, by the territory that held the store then.
    pub running: HashMap<String, usize>,
    /// R9's breached clocks of the month, by territory as [`District::breached`], then by
    /// store (the console lists the stores).
    pub breached_by_store: HashMap<String, HashMap<DocId, usize>>,
}

impl District {
    /// The stores of `territory` now, as the report counts them.
    pub fn stores_of<'a>(&'a self, territory: &'a str) -> impl Iterator<Item = &'a DocId> + 'a {
        self.stores
            .iter()
            .filter(move |(_, s)| s.territory == territory)
            .map(|(id, _)| id)
    }

    /// Sets `row`'s R9 clocks breached and running, which [`manager_row`] leaves at 0:
    /// they are counted district-wide, by the territory that held each clock's store.
    pub fn fill_clocks(&self, row: &mut ManagerRow) {
        let of = |by: &HashMap<String, usize>| by.get(&row.manager).copied().unwrap_or(0);
        (row.r9_clocks_breached, row.r9_clocks_running) = (of(&self.breached), of(&self.running));
    }
}

impl District {
    /// Reads them from `local`; documents that cannot be read are added to `skipped`.
    pub fn read(
        local: &LocalStore,
        options: &ReportOptions,
        skipped: &mut Vec<Unreadable>,
    ) -> AppResult<District> {
        let calendar = local.calendar();
        let month = (
            calendar.start_of(options.month),
            calendar.start_of(FieldCalendar::next_month_start(options.month)),
        );
        // From the index, not the documents: a store that cannot be read has no index row
        // and is named with the damaged documents.
        let stores: HashMap<DocId, StoreFacts> = local
            .store_flags()?
            .into_iter()
            .map(|(id, territory, demo_street, _functional)| {
                (
                    id,
                    StoreFacts {
                        territory,
                        demo_street,
                    },
                )
            })
            .collect();
        let clocks = month_clocks(local, &stores, month, options.as_of, skipped)?;
        Ok(District {
            stores,
            breached: clocks.breached,
            met: clocks.met,
            running: clocks.running,
            breached_by_store: clocks.breached_by_store,
        })
    }
}

/// One account manager's row, all but R9's clocks breached and running (district-wide:
/// see [`District::fill_clocks`]), which are left at 0. Reads only index rows and documents that
/// count for the manager (core's `LocalStore::territories_of`): their territory's stores
/// and what is about them, and what names them.
pub fn manager_row(
    local: &LocalStore,
    district: &District,
    user: &crate::storage::User,
    options: &ReportOptions,
    skipped: &mut Vec<Unreadable>,
) -> AppResult<ManagerRow> {
    let calendar = local.calendar();
    let month_from = calendar.start_of(options.month);
    let month_to = calendar.start_of(FieldCalendar::next_month_start(options.month));
    let month = options.month.format("%Y-%m").to_string();
    let stores = &district.stores;
    let m = user.id.as_str();
    let own = || stores.iter().filter(move |(_, s)| s.territory == m);
    let mut row = ManagerRow {
        manager: user.id.clone(),
        name: user.name.clone(),
        month: month.clone(),
        stores: own().count(),
        ..ManagerRow::default()
    };
    row.r1_due_this_week = local.stores_due_visit(m, options.day)?.len();
    let weeks = local.weeks_missed(m, options.day, options.now)?;
    row.r1_weeks_judged = weeks.len();
    row.r1_store_weeks_missed = weeks.iter().map(|w| w.stores.len()).sum();
    // R2 is a state: the displays that broke it at the end of `--day` (a past month's
    // last day), read as they were then. R3 counts the month's counts.
    let mut memo = fieldsync_core::PriceTagsOverTime::default();
    row.r2_price_tag_violations = local
        .price_tag_breaches_at(m, &[options.as_of], &mut memo)?
        .first()
        .copied()
        .unwrap_or(0);
    row.r3_count_findings = local
        .count_findings_finished_in(m, month_from, month_to)?
        .len();
    let cards = local.scorecards_of(m, &month)?;
    row.r4_scorecards = cards.len();
    if let Some(card) = cards.first()
        && let Some(outcome) = readable(local.scorecard_outcome(card), DocKind::Scorecard, skipped)?
    {
        (row.r4_total, row.r4_passes, row.r4_bonus) =
            (outcome.total, outcome.passes, outcome.bonus);
    }
    let supervision = local.supervision_month(m, options.day)?;
    row.r4_stores_spot_checked = supervision.stores_spot_checked;
    row.r5_demo_street_unchecked = local.demo_street_unchecked(m, options.day)?.len();
    row.r5_demo_street_unwalked = local.demo_street_unwalked(Some(m), options.day)?.len();
    row.r5_store_weeks_unwalked = local
        .walks_missed(m, options.day, options.now)?
        .iter()
        .map(|w| w.stores.len())
        .sum();
    row.r5_demo_street_stores = supervision.demo_street_stores;
    row.r5_demo_street_sampled = supervision.demo_street_sampled;
    for (id, _) in own().filter(|(_, s)| s.demo_street) {
        let display = LocalStore::shelf_display_id(id);
        if local.kind_of(&display).is_ok()
            && readable(
                local.shelf_display(&display),
                DocKind::ShelfDisplay,
                skipped,
            )?
            .is_some_and(|d| !d.failed_standards().is_empty())
        {
            row.r6_demo_street_failing += 1;
        }
    }
    let follow_ups = local.terminal_follow_ups(m, options.day)?;
    row.r7_follow_ups = follow_ups.len();
    row.r7_not_done = follow_ups.iter().filter(|f| f.done == Some(false)).count();
    // A training day counts where the store was hers and a functional terminal on that
    // day, whoever holds it now (docs/adr/0034). Days, not visits: two training visits on
    // one day are one day.
    row.r8_training_days = training_days(local, m, (month_from, month_to), skipped)?;
    let visits = local.monthly_visits(m, options.day, options.min_visits)?;
    row.r9_visits_made = visits.made();
    row.r9_visits_required = visits.required();
    row.r9_stores_below_minimum = visits.below_minimum().count();
    let requests = local.requests_answered(m, options.day, options.as_of)?;
    row.r10_requests_received = requests.received;
    row.r10_requests_unanswered = requests.unanswered.len();
    let tasks = local.open_tasks(m, options.as_of)?;
    row.tasks_open = tasks.len();
    row.tasks_overdue = tasks.iter().filter(|t| t.overdue).count();
    Ok(row)
}

/// The days (local dates) of the month on which `manager` made a complete training-day
/// visit (R8: all four activities recorded) in a store that was hers and a functional
/// terminal that day. Only her training-day visits of the month are read.
fn training_days(
    local: &LocalStore,
    manager: &str,
    (from, to): (Timestamp, Timestamp),
    skipped: &mut Vec<Unreadable>,
) -> AppResult<usize> {
    let calendar = local.calendar();
    let mut days = std::collections::BTreeSet::new();
    for (id, store) in local.training_visits(manager, from, to)? {
        let Some(visit) = readable(local.visit(&id), DocKind::Visit, skipped)? else {
            continue;
        };
        let complete = visit.training.len() == TrainingActivity::ALL.len()
            && visit.training.iter().all(|(_, note)| note.is_some());
        if complete
            && local
                .store_at(&store, visit.check_in.at)?
                .is_some_and(|then| then.functional && then.territory == manager)
        {
            days.insert(calendar.local(visit.check_in.at).date_naive());
        }
    }
    Ok(days.len())
}

/// Counts by territory.
type ByTerritory = HashMap<String, usize>;

/// The month's clocks: breached and met by territory, breached by territory and store,
/// running at `as_of` by territory.
struct MonthClocks {
    breached: ByTerritory,
    met: ByTerritory,
    running: ByTerritory,
    breached_by_store: HashMap<String, HashMap<DocId, usize>>,
}

/// The clocks breached and met whose deadline fell in `[from, to)`, by the end of `as_of`,
/// and those running at `as_of`. A clock counts in the month its deadline fell in,
/// whenever the complaint came (one received on the 29th and due on the 2nd is the next
/// month's), and whether or not the complaint is closed since (docs/adr/0030).
///
/// Each counts for the territory that held the store at the instant it is judged at, as
/// the other rules of a past month read the store as it was (docs/adr/0029, 0034): a clock
/// breached or met for the holder when it fell due (who owed the deadline: the store left
/// the former manager's phone when it moved), a clock running for the holder at `as_of`.
/// A store moved since keeps its past clocks where they were.
fn month_clocks(
    local: &LocalStore,
    stores: &HashMap<DocId, StoreFacts>,
    (from, to): (Timestamp, Timestamp),
    as_of: Timestamp,
    skipped: &mut Vec<Unreadable>,
) -> AppResult<MonthClocks> {
    let mut clocks = MonthClocks {
        breached: ByTerritory::new(),
        met: ByTerritory::new(),
        running: ByTerritory::new(),
        breached_by_store: HashMap::new(),
    };
    for id in local.document_ids(DocKind::Complaint)? {
        let Some(complaint) = readable(local.complaint(&id), DocKind::Complaint, skipped)? else {
            continue;
        };
        if complaint.received_at > as_of {
            continue;
        }
        // From the index: a store that cannot be read is named with the damaged documents.
        let Some(store) = stores.get(&complaint.store_id) else {
            continue;
        };
        let holder = |at: Timestamp| -> AppResult<String> {
            Ok(local
                .territory_credited_at(&complaint.store_id, at)?
                .unwrap_or_else(|| store.territory.clone()))
        };
        for (_, state) in complaint.clocks(as_of) {
            match state {
                ClockState::Breached { due, .. } if due >= from && due < to => {
                    let territory = holder(due)?;
                    *clocks
                        .breached_by_store
                        .entry(territory.clone())
                        .or_default()
                        .entry(complaint.store_id.clone())
                        .or_default() += 1;
                    *clocks.breached.entry(territory).or_default() += 1;
                }
                ClockState::Met { due, .. } if due >= from && due < to => {
                    *clocks.met.entry(holder(due)?).or_default() += 1;
                }
                ClockState::Running { .. } => {
                    *clocks.running.entry(holder(as_of)?).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    Ok(clocks)
}
