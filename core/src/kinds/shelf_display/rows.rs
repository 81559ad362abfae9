//! The rows of `display_index` and `display_check_index` a shelf display derives: kept with
//! the loaded document and updated by each local check from what it wrote, so a check does
//! not read the whole display again (see `crate::doc::derived`).

use std::collections::{BTreeMap, HashMap};

use super::read::{
    DisplayCheck, PRODUCT_PREFIX, STANDARD_PREFIX, ShelfDisplay, Verdict, checked_key,
};
use crate::doc::Stamp;
use crate::time::Timestamp;

/// What the display index is derived from: per entry of the document (`standard.<code>`,
/// `product.<sku>`, `new_product_zone`), whether it counts against the display and the
/// stamps of every value it holds, updated by each local check from what it wrote.
#[derive(Clone, Debug)]
pub(crate) struct DisplayRows {
    pub(crate) store_id: String,
    entries: BTreeMap<String, EntryRows>,
}

#[derive(Clone, Debug)]
struct EntryRows {
    /// A standard failed, or a product lacks its price tag (by the current value).
    against: Against,
    /// Who wrote each value the entry holds (several after concurrent checks), and when.
    stamps: Vec<(String, i64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Against {
    None,
    FailedStandard,
    MissingTag,
}

impl DisplayRows {
    pub(crate) fn of(display: &ShelfDisplay) -> DisplayRows {
        let stamps = |all: &mut dyn Iterator<Item = (&String, Timestamp)>| {
            all.map(|(by, at)| (by.clone(), at.0)).collect::<Vec<_>>()
        };
        let mut entries = BTreeMap::new();
        for (standard, versions) in &display.standards {
            if let Some(v) = versions {
                entries.insert(
                    format!("{STANDARD_PREFIX}{}", standard.code()),
                    EntryRows {
                        against: if v.value().verdict == Verdict::Fail {
                            Against::FailedStandard
                        } else {
                            Against::None
                        },
                        stamps: stamps(&mut v.all().map(|w| (&w.by, w.at))),
                    },
                );
            }
        }
        for p in &display.products {
            entries.insert(
                format!("{PRODUCT_PREFIX}{}", p.sku),
                EntryRows {
                    against: if *p.price_tag.value() {
                        Against::None
                    } else {
                        Against::MissingTag
                    },
                    stamps: stamps(&mut p.price_tag.all().map(|w| (&w.by, w.at))),
                },
            );
        }
        if let Some(zone) = &display.new_product_zone {
            entries.insert(
                "new_product_zone".to_owned(),
                EntryRows {
                    against: Against::None,
                    stamps: stamps(&mut zone.all().map(|w| (&w.by, w.at))),
                },
            );
        }
        for w in &display.confirmed {
            entries
                .entry(checked_key(&w.by))
                .or_insert_with(|| EntryRows {
                    against: Against::None,
                    stamps: Vec::new(),
                })
                .stamps
                .push((w.by.clone(), w.at.0));
        }
        DisplayRows {
            store_id: display.store_id.to_string(),
            entries,
        }
    }

    /// The mark every check writes for its checker (R5).
    pub(crate) fn confirm(&mut self, stamp: &Stamp) {
        self.entries.insert(
            checked_key(&stamp.by),
            EntryRows {
                against: Against::None,
                stamps: vec![(stamp.by.clone(), stamp.at.0)],
            },
        );
    }

    /// What a local check wrote: each entry it put holds that one value now; removed
    /// products hold none.
    pub(crate) fn apply(&mut self, stamp: &Stamp, check: &DisplayCheck) {
        let mine = || vec![(stamp.by.clone(), stamp.at.0)];
        for s in &check.standards {
            let against = if s.verdict == Verdict::Fail {
                Against::FailedStandard
            } else {
                Against::None
            };
            self.entries.insert(
                format!("{STANDARD_PREFIX}{}", s.standard.code()),
                EntryRows {
                    against,
                    stamps: mine(),
                },
            );
        }
        for p in &check.products {
            let against = if p.price_tag {
                Against::None
            } else {
                Against::MissingTag
            };
            self.entries.insert(
                format!("{PRODUCT_PREFIX}{}", p.sku),
                EntryRows {
                    against,
                    stamps: mine(),
                },
            );
        }
        for sku in &check.removed_products {
            self.entries.remove(&format!("{PRODUCT_PREFIX}{sku}"));
        }
        if check.new_product_zone.is_some() {
            self.entries.insert(
                "new_product_zone".to_owned(),
                EntryRows {
                    against: Against::None,
                    stamps: mine(),
                },
            );
        }
    }

    pub(crate) fn count(&self, against: Against) -> i64 {
        self.entries
            .values()
            .filter(|e| e.against == against)
            .count() as i64
    }

    /// What the display's index rows hold besides its store: the products missing their
    /// tag, the standards failed, and when each checker last checked (sorted by checker).
    pub(crate) fn index_values(&self) -> (i64, i64, Vec<(String, i64)>) {
        let mut checkers: Vec<(String, i64)> = self
            .checkers()
            .into_iter()
            .map(|(by, at)| (by.to_owned(), at))
            .collect();
        checkers.sort();
        (
            self.count(Against::MissingTag),
            self.count(Against::FailedStandard),
            checkers,
        )
    }

    /// Who checked, and when last: every stamp of every value, conflicting ones included.
    pub(crate) fn checkers(&self) -> HashMap<&str, i64> {
        let mut checkers: HashMap<&str, i64> = HashMap::new();
        for (by, at) in self.entries.values().flat_map(|e| e.stamps.iter()) {
            let last = checkers.entry(by.as_str()).or_insert(*at);
            *last = (*last).max(*at);
        }
        checkers
    }
}
