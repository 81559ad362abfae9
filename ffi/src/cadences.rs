//! The cadences others keep in an account manager's stores (R4's spot checks, R5's weekly
//! walk and monthly sample), and R1 over a month, answered offline from the phone's index.
//! R10's requests are the complaint clocks' `outstanding` events (`complaint.rs`).
//!
//! A visit counts by its kind, and the server takes each kind only from one role: walks
//! from the market team, spot checks from supervisors (docs/adr/0028-supervision-cadences.md).

use crate::error::FieldError;
use crate::parse;
use crate::rules::StoreDueRecord;
use crate::store::FieldStore;
use crate::time::{LocalDate, YearMonth};

/// One ended ISO week of a month and the stores R1 covers that the account manager did not
/// visit in it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WeekMissedRecord {
    /// The week's Monday.
    pub week_start: LocalDate,
    pub store_ids: Vec<String>,
}

impl From<fieldsync_core::WeekMissed> for WeekMissedRecord {
    fn from(w: fieldsync_core::WeekMissed) -> WeekMissedRecord {
        WeekMissedRecord {
            week_start: w.week_start.into(),
            store_ids: w.stores.iter().map(ToString::to_string).collect(),
        }
    }
}

/// What the supervision team did in one territory in one month.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SupervisionMonthRecord {
    pub month: YearMonth,
    /// Spot checks in stores of the territory in the month.
    pub spot_checks: u32,
    /// Stores of the territory with at least one (R4 asks for at least one store).
    pub stores_spot_checked: u32,
    /// Demo-street stores of the territory.
    pub demo_street_stores: u32,
    /// Of those, stores spot-checked in the month: the demo street's sample (R5).
    pub demo_street_sampled: u32,
    /// R4: at least one store of the territory was spot-checked.
    pub spot_checked: bool,
    /// R5: the territory's demo street was sampled, or it has none.
    pub demo_street_sampled_ok: bool,
}

#[uniffi::export]
impl FieldStore {
    /// R5: demo-street stores the market team has not walked in the ISO week of `day`
    /// (null: today), never walked first. `territory` narrows them to one account
    /// manager's; null lists every demo-street store the phone holds (the market team's
    /// list of the week).
    pub fn demo_street_unwalked(
        &self,
        territory: Option<String>,
        day: Option<LocalDate>,
    ) -> Result<Vec<StoreDueRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let due = self.core.demo_street_unwalked(territory.as_deref(), day)?;
        Ok(due.into_iter().map(StoreDueRecord::from).collect())
    }

    /// R1 over the month holding `day` (null: today): each of its ISO weeks (those whose
    /// Thursday falls in the month) that has ended by now, with the stores `manager` owed a
    /// visit in it and did not visit. A store is owed the weeks it was theirs at the week's
    /// middle (a store that left the phone's scope is no longer on the phone to list).
    pub fn weeks_missed(
        &self,
        manager: String,
        day: Option<LocalDate>,
    ) -> Result<Vec<WeekMissedRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let weeks = self.core.weeks_missed(&manager, day, self.core.now()?)?;
        Ok(weeks.into_iter().map(WeekMissedRecord::from).collect())
    }

    /// R5's walk over the month holding `day` (null: today): each of its ISO weeks that has
    /// ended, with the demo-street stores of `territory` the market team owed a walk in it
    /// and did not walk.
    pub fn walks_missed(
        &self,
        territory: String,
        day: Option<LocalDate>,
    ) -> Result<Vec<WeekMissedRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let weeks = self.core.walks_missed(&territory, day, self.core.now()?)?;
        Ok(weeks.into_iter().map(WeekMissedRecord::from).collect())
    }

    /// R4 and R5: the supervision team's spot checks in `manager`'s stores in the month
    /// holding `day` (null: today).
    pub fn supervision_month(
        &self,
        manager: String,
        day: Option<LocalDate>,
    ) -> Result<SupervisionMonthRecord, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let m = self.core.supervision_month(&manager, day)?;
        Ok(SupervisionMonthRecord {
            month: m.month_start.into(),
            spot_checks: m.spot_checks,
            stores_spot_checked: m.stores_spot_checked,
            demo_street_stores: m.demo_street_stores,
            demo_street_sampled: m.demo_street_sampled,
            spot_checked: m.spot_checked(),
            demo_street_sampled_ok: m.demo_street_sampled_ok(),
        })
    }
}
