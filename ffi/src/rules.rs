//! The field rules, answered offline from the phone's index (R1, R2, R3, R5, R7, R9; R4's
//! spot checks and R5's walk and sample in `cadences.rs`).
//!
//! The rules that live beside their documents are in those modules: scorecard outcome (R4)
//! in `scorecard.rs`, open tasks by deadline in `task.rs`, complaint clocks (R9, R10) in
//! `complaint.rs`.
//!
//! Each query is for one account manager (`manager`, the territory holder); `day` is a local
//! day of the district's calendar, null for today.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::inventory_count::ErrorRateRecord;
use crate::parse::{self, same_variants};
use crate::retail_store::TerminalRating;
use crate::store::FieldStore;
use crate::time::{Instant, LocalDate, YearMonth};

/// A store due its weekly visit (R1) and when it was last visited; or due the market
/// team's weekly walk (R5) and when it was last walked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreDueRecord {
    pub store_id: String,
    pub name: String,
    pub licence: String,
    pub last_visit: Option<Instant>,
}

impl From<fc::StoreDue> for StoreDueRecord {
    fn from(d: fc::StoreDue) -> StoreDueRecord {
        StoreDueRecord {
            store_id: d.store_id.to_string(),
            name: d.name,
            licence: d.licence,
            last_visit: d.last_visit.map(Instant::from),
        }
    }
}

/// A demo-street store whose display was not checked that day (R5).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UncheckedStoreRecord {
    pub store_id: String,
    pub name: String,
}

/// A store with more than 3 products missing their price tag (R2).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PriceTagFindingRecord {
    pub store_id: String,
    pub name: String,
    pub missing: u32,
}

/// A functional terminal whose latest finished count is off by more than 10% or has no
/// defined rate (R3).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CountFindingRecord {
    pub store_id: String,
    pub name: String,
    pub count_id: String,
    pub finished_at: Instant,
    pub error_rate: ErrorRateRecord,
}

/// Visits made to one store in the month.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreVisitsRecord {
    pub store_id: String,
    pub name: String,
    pub visits: u32,
}

/// R9's monthly visit commitment of one account manager.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MonthlyVisitsRecord {
    /// The month counted.
    pub month: YearMonth,
    pub minimum_per_store: u32,
    pub required: u32,
    pub made: u32,
    pub stores: Vec<StoreVisitsRecord>,
    /// Stores visited fewer times than the minimum.
    pub below_minimum: Vec<StoreVisitsRecord>,
}

/// What R7 asks for a functional terminal of a given rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FollowUpAction {
    /// Excellent: personalised guidance every month.
    MonthlyGuidance,
    /// Good: in-store service by the account manager every week.
    WeeklyInStoreService,
    /// Qualified: a study visit to an excellent store every quarter.
    QuarterlyStudyVisit,
    /// Unqualified: a rectification notice with a deadline.
    RectificationNotice,
}

/// The R7 follow-up of one functional terminal in the current period.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FollowUpRecord {
    pub store_id: String,
    pub name: String,
    pub rating: TerminalRating,
    pub action: FollowUpAction,
    /// The first day of the period (month, ISO week or quarter).
    pub period_start: LocalDate,
    /// Whether the records show it done this period; null where the app keeps no record
    /// of the action (a study visit happens in another store).
    pub done: Option<bool>,
}

#[uniffi::export]
impl FieldStore {
    /// R1: stores of `manager` with no visit by them in the ISO week of `day` (Z3 exempt).
    pub fn stores_due_visit(
        &self,
        manager: String,
        day: Option<LocalDate>,
    ) -> Result<Vec<StoreDueRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let due = self.core.stores_due_visit(&manager, day)?;
        Ok(due.into_iter().map(StoreDueRecord::from).collect())
    }

    /// R5: demo-street stores of `manager` whose display they have not checked on `day`.
    pub fn demo_street_unchecked(
        &self,
        manager: String,
        day: Option<LocalDate>,
    ) -> Result<Vec<UncheckedStoreRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let unchecked = self.core.demo_street_unchecked(&manager, day)?;
        Ok(unchecked
            .into_iter()
            .map(|(id, name)| UncheckedStoreRecord {
                store_id: id.to_string(),
                name,
            })
            .collect())
    }

    /// R2: stores of `manager` whose shelf display lacks more than 3 price tags.
    pub fn stores_missing_price_tags(
        &self,
        manager: String,
    ) -> Result<Vec<PriceTagFindingRecord>, FieldError> {
        let findings = self.core.stores_missing_price_tags(&manager)?;
        Ok(findings
            .into_iter()
            .map(|f| PriceTagFindingRecord {
                store_id: f.store_id.to_string(),
                name: f.name,
                missing: f.missing,
            })
            .collect())
    }

    /// R3: functional terminals of `manager` whose latest finished count breaks the limit.
    pub fn count_findings(&self, manager: String) -> Result<Vec<CountFindingRecord>, FieldError> {
        let findings = self.core.count_findings(&manager)?;
        Ok(findings
            .into_iter()
            .map(|f| CountFindingRecord {
                store_id: f.store_id.to_string(),
                name: f.name,
                count_id: f.count_id.to_string(),
                finished_at: Instant::from(f.finished_at),
                error_rate: f.error_rate.into(),
            })
            .collect())
    }

    /// R9: visits `manager` made in the month of `day` to each covered store, against
    /// `minimum_per_store` (null: the decided default of 4).
    pub fn monthly_visits(
        &self,
        manager: String,
        day: Option<LocalDate>,
        minimum_per_store: Option<u32>,
    ) -> Result<MonthlyVisitsRecord, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let minimum = minimum_per_store.unwrap_or(fc::DEFAULT_MIN_MONTHLY_VISITS);
        let m = self.core.monthly_visits(&manager, day, minimum)?;
        let record = |(id, name, visits): &(fc::DocId, String, u32)| StoreVisitsRecord {
            store_id: id.to_string(),
            name: name.clone(),
            visits: *visits,
        };
        Ok(MonthlyVisitsRecord {
            month: m.month_start.into(),
            minimum_per_store: m.minimum_per_store,
            required: m.required(),
            made: m.made(),
            below_minimum: m.below_minimum().map(record).collect(),
            stores: m.stores.iter().map(record).collect(),
        })
    }

    /// R7: the follow-up each rated functional terminal of `manager` needs in the period
    /// holding `day`, and whether it is done.
    pub fn terminal_follow_ups(
        &self,
        manager: String,
        day: Option<LocalDate>,
    ) -> Result<Vec<FollowUpRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let follow_ups = self.core.terminal_follow_ups(&manager, day)?;
        Ok(follow_ups
            .into_iter()
            .map(|f| FollowUpRecord {
                store_id: f.store_id.to_string(),
                name: f.name,
                rating: f.rating.into(),
                action: f.action.into(),
                period_start: f.period_start.into(),
                done: f.done,
            })
            .collect())
    }
}

same_variants!(
    FollowUpAction,
    fc::FollowUpAction,
    MonthlyGuidance,
    WeeklyInStoreService,
    QuarterlyStudyVisit,
    RectificationNotice,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retail_store::TerminalRating;
    use crate::task::NewTaskRecord;
    use crate::test_support::{HOUR_MS, MONDAY_10, ms, new_store, phone};

    #[test]
    fn an_unqualified_terminal_needs_a_notice_until_one_answering_its_rating_is_opened() {
        let am = phone("am-li", MONDAY_10);
        let shop = am
            .store
            .create_store(crate::retail_store::NewStoreRecord {
                functional_terminal: true,
                rating: Some(TerminalRating::Unqualified),
                ..new_store("330100000031", "am-li")
            })
            .expect("store");
        let day = Some(crate::time::LocalDate("2026-11-23".into()));
        let before = am
            .store
            .terminal_follow_ups("am-li".into(), day.clone())
            .expect("follow-ups");
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].action, FollowUpAction::RectificationNotice);
        assert_eq!(before[0].period_start.0, "2026-10-01");
        assert_eq!(before[0].done, Some(false));

        let task = |title: &str, origin| NewTaskRecord {
            store_id: shop.clone(),
            title: title.into(),
            description: String::new(),
            assignee: "am-li".into(),
            deadline: ms(MONDAY_10) + 240 * HOUR_MS,
            origin,
        };
        am.store
            .create_task(task("replace the light bulb", None))
            .expect("task");
        let unrelated = am
            .store
            .terminal_follow_ups("am-li".into(), day.clone())
            .expect("follow-ups");
        assert_eq!(unrelated[0].done, Some(false), "any task is not the notice");
        let rated_at = am
            .store
            .store(shop.clone())
            .expect("store")
            .rated_at
            .expect("rated");
        am.store
            .create_task(task(
                "rectification notice",
                Some(crate::task::TaskOrigin::Rating { rated_at }),
            ))
            .expect("notice");
        let after = am
            .store
            .terminal_follow_ups("am-li".into(), day)
            .expect("follow-ups");
        assert_eq!(after[0].done, Some(true));
    }
}
