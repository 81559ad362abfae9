//! The field rules, answered offline from the phone's index (R1, R2, R3, R5, R9).
//!
//! Each query is for one account manager (`manager`, the territory holder); `day` is a local
//! day `YYYY-MM-DD` of the district's calendar, null for today.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::inventory_count::ErrorRateRecord;
use crate::parse;
use crate::store::FieldStore;

/// A store due its weekly visit (R1) and when it was last visited.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreDueRecord {
    pub store_id: String,
    pub name: String,
    pub licence: String,
    pub last_visit_ms: Option<i64>,
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
    pub finished_at_ms: i64,
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
    /// `YYYY-MM-DD`, the first day of the month.
    pub month_start: String,
    pub minimum_per_store: u32,
    pub required: u32,
    pub made: u32,
    pub stores: Vec<StoreVisitsRecord>,
    /// Stores visited fewer times than the minimum.
    pub below_minimum: Vec<StoreVisitsRecord>,
}

#[uniffi::export]
impl FieldStore {
    /// R1: stores of `manager` with no visit by them in the ISO week of `day` (Z3 exempt).
    pub fn stores_due_visit(
        &self,
        manager: String,
        day: Option<String>,
    ) -> Result<Vec<StoreDueRecord>, FieldError> {
        let day = parse::day(&self.core, day)?;
        let due = self.core.stores_due_visit(&manager, day)?;
        Ok(due
            .into_iter()
            .map(|d| StoreDueRecord {
                store_id: d.store_id.to_string(),
                name: d.name,
                licence: d.licence,
                last_visit_ms: d.last_visit.map(|t| t.millis()),
            })
            .collect())
    }

    /// R5: demo-street stores of `manager` whose display they have not checked on `day`.
    pub fn demo_street_unchecked(
        &self,
        manager: String,
        day: Option<String>,
    ) -> Result<Vec<UncheckedStoreRecord>, FieldError> {
        let day = parse::day(&self.core, day)?;
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
                finished_at_ms: f.finished_at.millis(),
                error_rate: f.error_rate.into(),
            })
            .collect())
    }

    /// R9: visits `manager` made in the month of `day` to each covered store, against
    /// `minimum_per_store` (null: the decided default of 4).
    pub fn monthly_visits(
        &self,
        manager: String,
        day: Option<String>,
        minimum_per_store: Option<u32>,
    ) -> Result<MonthlyVisitsRecord, FieldError> {
        let day = parse::day(&self.core, day)?;
        let minimum = minimum_per_store.unwrap_or(fc::DEFAULT_MIN_MONTHLY_VISITS);
        let m = self.core.monthly_visits(&manager, day, minimum)?;
        let record = |(id, name, visits): &(fc::DocId, String, u32)| StoreVisitsRecord {
            store_id: id.to_string(),
            name: name.clone(),
            visits: *visits,
        };
        Ok(MonthlyVisitsRecord {
            month_start: m.month_start.format("%Y-%m-%d").to_string(),
            minimum_per_store: m.minimum_per_store,
            required: m.required(),
            made: m.made(),
            below_minimum: m.below_minimum().map(record).collect(),
            stores: m.stores.iter().map(record).collect(),
        })
    }
}
