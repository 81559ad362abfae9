//! The inventory count document: one per counting session in a store (R3); its schema,
//! value rules, typed form, reader ([`read`]) and index rows ([`CountRows`]).
//!
//! Lines hold a sku's book quantity (账面, from the system) and its counted quantity (实际
//! 库存). Two people may count different shelves at once: their lines merge; if both count
//! the same sku concurrently, both values are kept and shown as a conflict. A finished
//! count is closed to edits. Its error rate (R3) is `crate::rules::error_rate`'s.

use std::collections::{BTreeMap, HashMap};

use super::shape::{Field, KeyRule, Ty, opt, req};
use crate::doc::{DOC_ROOT, Doc, Versions, scalar_i64, scalar_str};
use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::RuleViolation;
use crate::time::Timestamp;

/// A line given when a count starts or a sku is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCountLine {
    pub sku: String,
    pub name: String,
    /// The book quantity, in packs or cartons as the district counts.
    pub book: i64,
}

/// What the app gives to start a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInventoryCount {
    pub store_id: DocId,
    pub lines: Vec<NewCountLine>,
}

/// One line as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct CountLine {
    pub sku: String,
    pub name: String,
    pub book: i64,
    /// Every counted value (several when two people counted it concurrently).
    pub counted: Option<Versions<i64>>,
}

impl CountLine {
    /// counted − book, by the current counted value.
    pub fn variance(&self) -> Option<i64> {
        self.counted.as_ref().map(|c| c.value() - self.book)
    }
}

/// An inventory count as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryCount {
    pub id: DocId,
    pub store_id: DocId,
    pub started_by: String,
    pub started_at: Timestamp,
    /// Who finished it and when.
    pub finished: Option<(String, Timestamp)>,
    pub lines: Vec<CountLine>,
}

/// The largest quantity a line may hold (packs or cartons): more is a typing error.
pub(crate) const MAX_QUANTITY: i64 = 10_000_000;
/// The most lines a count holds.
pub(crate) const MAX_LINES: usize = 1_000;

const QUANTITY: Ty = Ty::Int {
    min: 0,
    max: MAX_QUANTITY,
};

/// Every field of an inventory count document.
pub(crate) const FIELDS: &[Field] = &[
    req("store_id", Ty::Id),
    req("started_by", Ty::User),
    req("started_at", Ty::Time),
    req(
        "book",
        Ty::MapOf {
            key: KeyRule::Sku,
            value: &QUANTITY,
            max: MAX_LINES,
        },
    ),
    opt(
        "names",
        Ty::MapOf {
            key: KeyRule::Sku,
            value: &Ty::Str { min: 0, max: 200 },
            max: MAX_LINES,
        },
    ),
    opt(
        "counted",
        Ty::MapOf {
            key: KeyRule::Sku,
            value: &Ty::Entry(&[req("v", QUANTITY)]),
            max: MAX_LINES,
        },
    ),
    opt("finished", Ty::Entry(&[req("v", Ty::Bool)])),
];

/// Counted quantities and names belong to lines of the book (a count of a line that does
/// not exist would be silently left out of the error rate), and a finished count says so
/// with `true` and has every line counted.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let count = read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    let book: std::collections::HashSet<&str> =
        count.lines.iter().map(|l| l.sku.as_str()).collect();
    let keys = |key: &str| {
        doc.obj(&DOC_ROOT, key)
            .map(|o| doc.keys(&o))
            .unwrap_or_default()
    };
    let counted = keys("counted");
    for (map, skus) in [("counted", &counted), ("names", &keys("names"))] {
        if let Some(sku) = skus.iter().find(|s| !book.contains(s.as_str())) {
            return Err(RuleViolation::at(
                "value",
                format!("{map}.{}", super::shape::quote(sku)),
                "is not a line of this count's book",
            ));
        }
    }
    // A count is finished once and never reopened: `finished` says so with `v` true. A
    // `false` would still read as finished everywhere, the count's `finished_at` included.
    if let Some(finished) = doc.stamped(&DOC_ROOT, "finished")
        && finished
            .all()
            .any(|w| w.value != automerge::ScalarValue::Boolean(true))
    {
        return Err(RuleViolation::at(
            "value",
            "finished.v",
            "must be true: a count is finished once, and never reopened",
        ));
    }
    if doc.scalar(&DOC_ROOT, "finished").is_some() {
        let counted: std::collections::HashSet<&str> = counted.iter().map(String::as_str).collect();
        // In sku order, as `read` gives the lines.
        if let Some(line) = count
            .lines
            .iter()
            .find(|l| !counted.contains(l.sku.as_str()))
        {
            return Err(RuleViolation::at(
                "value",
                "finished",
                format!(
                    "line `{}` has no counted quantity yet",
                    super::shape::quote(&line.sku)
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn read(doc: &Doc) -> Result<InventoryCount> {
    // Each map is read in one pass; only conflicted counts are read key by key.
    let book = doc
        .snapshot(&DOC_ROOT, Some("book"))
        .ok_or_else(|| doc.missing("book"))?;
    let names = doc.snapshot(&DOC_ROOT, Some("names"));
    let counted = doc.snapshot(&DOC_ROOT, Some("counted"));
    let mut lines: Vec<CountLine> = book
        .keys()
        .map(|sku| CountLine {
            book: book.scalar(sku).and_then(scalar_i64).unwrap_or(0),
            name: names
                .as_ref()
                .and_then(|n| n.scalar(sku))
                .and_then(scalar_str)
                .unwrap_or_default(),
            counted: counted
                .as_ref()
                .and_then(|c| c.entry_versions(doc, sku))
                .map(|v| v.map(|f| f.i64("v").unwrap_or(0))),
            sku: sku.clone(),
        })
        .collect();
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(InventoryCount {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?,
        started_by: doc.req_str(&DOC_ROOT, "started_by")?,
        started_at: doc
            .time(&DOC_ROOT, "started_at")
            .ok_or_else(|| doc.missing("started_at"))?,
        finished: doc
            .stamped(&DOC_ROOT, "finished")
            .map(|v| (v.current.by, v.current.at)),
        lines,
    })
}

/// What the count index is derived from: the lines' book quantities and the current
/// counted quantities, updated by each local edit from what it wrote.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CountRows {
    pub(crate) store_id: String,
    pub(crate) started_at: i64,
    pub(crate) finished_at: Option<i64>,
    /// By sku, in sku order (the order `read` gives the lines).
    pub(crate) book: BTreeMap<String, i64>,
    /// The current counted quantity by sku.
    pub(crate) counted: HashMap<String, i64>,
}

/// A count's row of `count_index`: store, started, finished, lines, counted lines, book
/// total, the sum of the absolute differences.
pub(crate) type CountIndexRow = (String, i64, Option<i64>, i64, i64, i64, i64);

impl CountRows {
    /// The count's row of `count_index`.
    pub(crate) fn index_row(&self) -> CountIndexRow {
        let (mut abs_diff, mut book_total, mut counted_lines) = (0i64, 0i64, 0i64);
        let finished = self.finished_at.is_some();
        for (sku, book) in &self.book {
            // A finished count's line without a counted quantity (added on another phone
            // while the count was being finished) counts as found empty: leaving a line out
            // never improves a rate (R3).
            let counted = self.counted.get(sku).copied().or(finished.then_some(0));
            if let Some(qty) = counted {
                abs_diff = abs_diff.saturating_add(book.saturating_sub(qty).saturating_abs());
                book_total = book_total.saturating_add(*book);
                counted_lines += 1;
            }
        }
        (
            self.store_id.clone(),
            self.started_at,
            self.finished_at,
            self.book.len() as i64,
            counted_lines,
            book_total,
            abs_diff,
        )
    }

    /// The rows of the document as it is, read directly: as [`CountRows::of`] the count
    /// [`read`] gives, without the lines' names and the values the current ones won over
    /// (the index uses neither). The current value of a conflicted sku is the one every
    /// device shows, as in `read`.
    pub(crate) fn read(doc: &Doc) -> Result<CountRows> {
        let book_obj = doc
            .obj(&DOC_ROOT, "book")
            .ok_or_else(|| doc.missing("book"))?;
        let mut rows = CountRows {
            store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?.to_string(),
            started_at: doc
                .time(&DOC_ROOT, "started_at")
                .ok_or_else(|| doc.missing("started_at"))?
                .0,
            finished_at: doc.stamped(&DOC_ROOT, "finished").map(|v| v.current.at.0),
            book: BTreeMap::new(),
            counted: HashMap::new(),
        };
        // Every key of the book is a line, whatever its value (a non-integer counts 0).
        for sku in doc.keys(&book_obj) {
            rows.book.insert(sku, 0);
        }
        doc.for_each_scalar(&book_obj, |sku, value| {
            if let Some(book) = rows.book.get_mut(sku) {
                *book = scalar_i64(value).unwrap_or(0);
            }
        });
        if let Some(counted) = doc.obj(&DOC_ROOT, "counted") {
            doc.for_each_scalar(&counted, |sku, value| {
                if !rows.book.contains_key(sku) {
                    return;
                }
                let entry = value
                    .as_str()
                    .and_then(|text| crate::doc::Fields::parse_i64(text, "v"));
                if let Some(v) = entry {
                    rows.counted.insert(sku.to_owned(), v.unwrap_or(0));
                }
            });
        }
        Ok(rows)
    }

    /// The rows of a count as [`read`] gives it: what [`CountRows::read`] must equal.
    pub(crate) fn of(count: &InventoryCount) -> CountRows {
        CountRows {
            store_id: count.store_id.to_string(),
            started_at: count.started_at.0,
            finished_at: count.finished.as_ref().map(|f| f.1.0),
            book: count
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.book))
                .collect(),
            counted: count
                .lines
                .iter()
                .filter_map(|l| l.counted.as_ref().map(|c| (l.sku.clone(), *c.value())))
                .collect(),
        }
    }
}
