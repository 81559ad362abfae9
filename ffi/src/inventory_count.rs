//! Inventory counts across the boundary (R3): start one with book quantities, set counted
//! quantities, finish it, read it back with its error rate and every concurrent count.

use fieldsync_core as fc;

use crate::conflict::CountVersions;
use crate::error::FieldError;
use crate::parse;
use crate::store::FieldStore;
use crate::time::Instant;

/// A line given when a count starts or a sku is added.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewCountLineRecord {
    pub sku: String,
    pub name: String,
    /// The book quantity (账面).
    pub book: i64,
}

/// One line as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CountLineRecord {
    pub sku: String,
    pub name: String,
    pub book: i64,
    /// Every counted value (several when two people counted it at once); null until counted.
    pub counted: Option<CountVersions>,
    /// counted − book, by the current counted value.
    pub variance: Option<i64>,
}

/// Which of R3's three cases a count's error rate is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ErrorRateState {
    /// No line has a counted quantity yet: nothing to judge.
    NothingCounted,
    /// Lines are counted but their book total is 0: no rate, and reported so; `abs_diff`
    /// is still the real difference.
    Undefined,
    /// Σ book > 0: `ratio` is the rate.
    Defined,
}

/// A count's error rate Σ|book − counted| ÷ Σ book over its counted lines.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ErrorRateRecord {
    pub state: ErrorRateState,
    /// Σ|book − counted| over the counted lines (real also when the book total is 0).
    pub abs_diff: i64,
    pub book_total: i64,
    /// As a fraction (0.1 is 10%); null unless `state` is `Defined`.
    pub ratio: Option<f64>,
    /// More than 10% (R3); exactly 10% is not.
    pub exceeds_limit: bool,
}

/// An inventory count as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct InventoryCountRecord {
    pub id: String,
    pub store_id: String,
    pub started_by: String,
    pub started_at: Instant,
    pub finished_by: Option<String>,
    pub finished_at: Option<Instant>,
    pub lines: Vec<CountLineRecord>,
    /// Over the lines counted so far.
    pub error_rate: ErrorRateRecord,
}

/// A counted quantity for one sku, for `set_counted_many`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SkuCount {
    pub sku: String,
    pub counted: i64,
}

#[uniffi::export]
impl FieldStore {
    /// Starts a count in a store with its lines; returns its id.
    pub fn create_inventory_count(
        &self,
        store_id: String,
        lines: Vec<NewCountLineRecord>,
    ) -> Result<String, FieldError> {
        let new = fc::NewInventoryCount {
            store_id: parse::id("store_id", &store_id)?,
            lines: lines.into_iter().map(Into::into).collect(),
        };
        self.create(|s| s.create_inventory_count(new))
    }

    /// Records a count taken whole, in one change: its lines, their counted quantities
    /// and, when `finish`, its closing (refused while a line has no counted quantity).
    /// Returns its id.
    pub fn record_inventory_count(
        &self,
        store_id: String,
        lines: Vec<NewCountLineRecord>,
        counted: Vec<SkuCount>,
        finish: bool,
    ) -> Result<String, FieldError> {
        let new = fc::NewInventoryCount {
            store_id: parse::id("store_id", &store_id)?,
            lines: lines.into_iter().map(Into::into).collect(),
        };
        let counted: Vec<(String, i64)> = counted.into_iter().map(|c| (c.sku, c.counted)).collect();
        self.create(|s| s.record_inventory_count(new, &counted, finish))
    }

    pub fn inventory_count(&self, id: String) -> Result<InventoryCountRecord, FieldError> {
        let count = self.core.inventory_count(&parse::id("id", &id)?)?;
        Ok(count.into())
    }

    /// Counts of a store, newest first.
    pub fn inventory_counts_of_store(&self, store_id: String) -> Result<Vec<String>, FieldError> {
        let ids = self
            .core
            .inventory_counts_of_store(&parse::id("store_id", &store_id)?)?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    pub fn add_count_line(&self, id: String, line: NewCountLineRecord) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.add_count_line(&doc, line.into()))
    }

    /// Sets the counted quantity of one sku (not negative).
    pub fn set_counted(&self, id: String, sku: String, counted: i64) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.set_counted(&doc, &sku, counted))
    }

    /// Sets several counted quantities in one change.
    pub fn set_counted_many(&self, id: String, counts: Vec<SkuCount>) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let counts: Vec<(String, i64)> = counts.into_iter().map(|c| (c.sku, c.counted)).collect();
        self.write(&[&id], |s| s.set_counted_many(&doc, &counts))
    }

    /// Closes the count to edits.
    pub fn finish_count(&self, id: String) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.finish_count(&doc))
    }
}

impl From<NewCountLineRecord> for fc::NewCountLine {
    fn from(l: NewCountLineRecord) -> Self {
        fc::NewCountLine {
            sku: l.sku,
            name: l.name,
            book: l.book,
        }
    }
}

impl From<fc::ErrorRate> for ErrorRateRecord {
    fn from(rate: fc::ErrorRate) -> Self {
        ErrorRateRecord {
            state: match rate {
                fc::ErrorRate::NothingCounted => ErrorRateState::NothingCounted,
                fc::ErrorRate::Undefined { .. } => ErrorRateState::Undefined,
                fc::ErrorRate::Rate { .. } => ErrorRateState::Defined,
            },
            abs_diff: rate.abs_diff(),
            book_total: rate.book_total(),
            ratio: rate.ratio(),
            exceeds_limit: rate.exceeds_limit(),
        }
    }
}

impl From<fc::InventoryCount> for InventoryCountRecord {
    fn from(c: fc::InventoryCount) -> Self {
        let error_rate = c.error_rate().into();
        let (finished_by, finished_at) = match c.finished {
            Some((by, at)) => (Some(by), Some(Instant::from(at))),
            None => (None, None),
        };
        InventoryCountRecord {
            id: c.id.to_string(),
            store_id: c.store_id.to_string(),
            started_by: c.started_by,
            started_at: Instant::from(c.started_at),
            finished_by,
            finished_at,
            lines: c
                .lines
                .into_iter()
                .map(|l| CountLineRecord {
                    variance: l.variance(),
                    sku: l.sku,
                    name: l.name,
                    book: l.book,
                    counted: l.counted.map(Into::into),
                })
                .collect(),
            error_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, new_store, phone};

    #[test]
    fn a_count_with_no_book_stock_crosses_with_its_difference_and_an_undefined_state() {
        let am = phone("am-li", MONDAY_10);
        let shop = am
            .store
            .create_store(new_store("330100000041", "am-li"))
            .expect("store");
        let line = |sku: &str| NewCountLineRecord {
            sku: sku.into(),
            name: sku.into(),
            book: 0,
        };
        let id = am
            .store
            .create_inventory_count(shop, vec![line("sku-1"), line("sku-2")])
            .expect("count");
        let fresh = am.store.inventory_count(id.clone()).expect("read");
        assert_eq!(fresh.error_rate.state, ErrorRateState::NothingCounted);
        am.store
            .set_counted_many(
                id.clone(),
                vec![
                    SkuCount {
                        sku: "sku-1".into(),
                        counted: 4,
                    },
                    SkuCount {
                        sku: "sku-2".into(),
                        counted: 6,
                    },
                ],
            )
            .expect("counted");
        let rate = am.store.inventory_count(id).expect("read").error_rate;
        assert_eq!(
            (rate.state, rate.abs_diff, rate.book_total, rate.ratio),
            (ErrorRateState::Undefined, 10, 0, None)
        );
        assert!(!rate.exceeds_limit);
    }
}
