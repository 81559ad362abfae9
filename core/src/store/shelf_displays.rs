//! The shelf display document: one per store, long-lived, checked by everyone who visits.
//!
//! The account manager checks it daily on the demo street, the market team weekly, a
//! supervisor monthly (R5). Each check records the R6 standards as pass / fail / n.a. with
//! a note, and the products on display with whether each has its price tag (R2).
//!
//! Everything lives in stamped entries at the document's root (`standard.<code>`,
//! `product.<sku>`, `new_product_zone`, `checked.<user>`) and the id is derived from the
//! store's id, so two
//! phones that start a store's display offline start the *same* document and their checks
//! merge. Two verdicts on one standard made concurrently are both kept and shown as a
//! conflict; the history answers "what did this shelf look like on date X, and who
//! changed what".
//!
//! A check writes every standard it gives (who checked it and when is part of a verdict)
//! but only the products whose tag or name it changes: a product's stamp says who last
//! changed it, so a tag missing for three weeks reads as missing since its first check,
//! and a check of twenty unchanged products costs no twenty writes. A check that changes
//! nothing at all leaves its checker's mark (`checked.<user>`), so R5 still sees it.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, Fields, Scalar, Stamp, Versions, Written, str_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::store::LocalStore;
use crate::store::index::Derived;
use crate::store::retail_stores::store_facts;
use crate::time::Timestamp;

/// The display standards of the demo street (R6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisplayStandard {
    /// 价签盒: the store has the price-tag box.
    PriceTagBox,
    /// 价签规范: price tags are used as the standard says.
    PriceTags,
    /// 新品展示专区: the new-product display zone.
    NewProductZone,
    /// 统一陈列: unified display.
    UnifiedDisplay,
    /// 盒包陈列: pack display standard.
    PackDisplay,
    /// 条包陈列: carton display standard.
    CartonDisplay,
    /// 柜台整齐: tidy counter.
    TidyCounter,
    /// 店面生动醒目: bright storefront.
    BrightStorefront,
}

impl DisplayStandard {
    pub const ALL: [DisplayStandard; 8] = [
        DisplayStandard::PriceTagBox,
        DisplayStandard::PriceTags,
        DisplayStandard::NewProductZone,
        DisplayStandard::UnifiedDisplay,
        DisplayStandard::PackDisplay,
        DisplayStandard::CartonDisplay,
        DisplayStandard::TidyCounter,
        DisplayStandard::BrightStorefront,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DisplayStandard::PriceTagBox => "price_tag_box",
            DisplayStandard::PriceTags => "price_tags",
            DisplayStandard::NewProductZone => "new_product_zone",
            DisplayStandard::UnifiedDisplay => "unified_display",
            DisplayStandard::PackDisplay => "pack_display",
            DisplayStandard::CartonDisplay => "carton_display",
            DisplayStandard::TidyCounter => "tidy_counter",
            DisplayStandard::BrightStorefront => "bright_storefront",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.code() == text)
            .ok_or_else(|| Error::invalid("standard", format!("unknown display standard `{text}`")))
    }
}

/// The verdict on one standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Pass,
    Fail,
    NotApplicable,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "na",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "pass" => Ok(Verdict::Pass),
            "fail" => Ok(Verdict::Fail),
            "na" => Ok(Verdict::NotApplicable),
            other => Err(Error::invalid(
                "verdict",
                format!("unknown verdict `{other}`"),
            )),
        }
    }
}

/// One standard as checked: the verdict, a note, and photo content hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardCheck {
    pub standard: DisplayStandard,
    pub verdict: Verdict,
    pub note: String,
    pub photos: Vec<String>,
}

/// A product on display and whether its price tag is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductOnDisplay {
    pub sku: String,
    pub name: String,
    pub price_tag: bool,
}

/// What a checker records in one go; every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisplayCheck {
    pub standards: Vec<StandardCheck>,
    /// Products seen on display, added or updated.
    pub products: Vec<ProductOnDisplay>,
    /// Products no longer on display.
    pub removed_products: Vec<String>,
    /// The new-product zone: whether it is there and which skus it shows.
    pub new_product_zone: Option<NewProductZone>,
}

/// The new-product display zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProductZone {
    pub present: bool,
    pub skus: Vec<String>,
    pub note: String,
}

/// A product on display as read back, with every concurrent verdict on its tag.
#[derive(Clone, Debug, PartialEq)]
pub struct DisplayProduct {
    pub sku: String,
    pub name: String,
    pub price_tag: Versions<bool>,
}

/// A shelf display as read from its document (now, or as it was at some instant).
#[derive(Clone, Debug, PartialEq)]
pub struct ShelfDisplay {
    pub id: DocId,
    pub store_id: DocId,
    /// Every standard, with its verdicts once checked.
    pub standards: Vec<(DisplayStandard, Option<Versions<StandardCheck>>)>,
    pub products: Vec<DisplayProduct>,
    pub new_product_zone: Option<Versions<NewProductZone>>,
    /// Checks that found the display as it was and changed nothing: the latest of each
    /// checker (several for one person after concurrent checks on two phones). A check
    /// that changed anything shows in the stamps of what it wrote instead.
    pub confirmed: Vec<Written<()>>,
}

impl ShelfDisplay {
    /// Skus on display whose price tag is missing (by the current verdicts; R2).
    pub fn missing_price_tags(&self) -> Vec<&str> {
        self.products
            .iter()
            .filter(|p| !p.price_tag.value())
            .map(|p| p.sku.as_str())
            .collect()
    }

    /// R2: at most 3 missing price tags; 4 or more is a violation.
    pub fn violates_price_tag_rule(&self) -> bool {
        self.missing_price_tags().len() > crate::rules::MAX_MISSING_PRICE_TAGS
    }

    /// Standards whose current verdict is fail.
    pub fn failed_standards(&self) -> Vec<DisplayStandard> {
        self.standards
            .iter()
            .filter(|(_, v)| {
                v.as_ref()
                    .is_some_and(|v| v.value().verdict == Verdict::Fail)
            })
            .map(|(s, _)| *s)
            .collect()
    }

    /// The verdicts on one standard.
    pub fn standard(&self, standard: DisplayStandard) -> Option<&Versions<StandardCheck>> {
        self.standards
            .iter()
            .find(|(s, _)| *s == standard)
            .and_then(|(_, v)| v.as_ref())
    }
}

const STANDARD_PREFIX: &str = "standard.";
const PRODUCT_PREFIX: &str = "product.";
const CHECKED_PREFIX: &str = "checked.";

impl LocalStore {
    /// Starts the shelf display of a store (its id is derived from the store's). Refuses
    /// an unknown store, or a display this device already has.
    pub fn create_shelf_display(&self, store_id: &DocId) -> Result<DocId> {
        let id = DocId::derived(DocKind::ShelfDisplay, store_id);
        self.create_doc_with_id(DocKind::ShelfDisplay, id, |conn, _| {
            store_facts(conn, "store_id", store_id)?;
            Ok(HashMap::from([("store_id", str_value(store_id.as_str()))]))
        })
    }

    /// The id of a store's shelf display, whether or not this device has it yet.
    pub fn shelf_display_id(store_id: &DocId) -> DocId {
        DocId::derived(DocKind::ShelfDisplay, store_id)
    }

    /// Reads a shelf display as it is now.
    pub fn shelf_display(&self, id: &DocId) -> Result<ShelfDisplay> {
        self.read_doc(id, DocKind::ShelfDisplay, read)
    }

    /// Reads a shelf display as it was at the end of `at` (by the checkers' clocks).
    pub fn shelf_display_as_of(&self, id: &DocId, at: Timestamp) -> Result<ShelfDisplay> {
        self.read_doc_as_of(id, DocKind::ShelfDisplay, at, read)
    }

    /// Records a check of the display in one change: verdicts, products, the new-product
    /// zone. Refuses unknown or duplicated entries and empty skus; nothing is written then.
    pub fn record_display_check(&self, id: &DocId, check: &DisplayCheck) -> Result<()> {
        validate_check(check)?;
        let what = describe(check);
        self.edit_doc(id, DocKind::ShelfDisplay, &what, |doc, stamp, _| {
            let writes = what_changes(doc, check);
            // A check that was given something but changes nothing is still a check.
            let confirm = writes.is_empty() && !check.is_empty();
            apply_check(doc, stamp, &writes)?;
            if confirm {
                doc.put_entry(&DOC_ROOT, &checked_key(&stamp.by), Vec::new(), stamp)?;
            }
            doc.update_derived(|derived: &mut Derived| match derived {
                Derived::Display(rows) => {
                    rows.apply(stamp, &writes);
                    if confirm {
                        rows.confirm(stamp);
                    }
                    true
                }
                _ => false,
            });
            Ok(())
        })
    }

    /// Marks one standard (the common single edit during a visit).
    pub fn mark_display_standard(
        &self,
        id: &DocId,
        standard: DisplayStandard,
        verdict: Verdict,
        note: &str,
    ) -> Result<()> {
        let check = DisplayCheck {
            standards: vec![StandardCheck {
                standard,
                verdict,
                note: note.to_owned(),
                photos: Vec::new(),
            }],
            ..DisplayCheck::default()
        };
        self.record_display_check(id, &check)
    }
}

fn validate_check(check: &DisplayCheck) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in &check.standards {
        if !seen.insert(s.standard) {
            return Err(Error::invalid(
                "standards",
                format!("`{}` is checked twice", s.standard.code()),
            ));
        }
        for hash in &s.photos {
            crate::store::visits::validate_photo_hash(hash)?;
        }
    }
    let mut skus = std::collections::HashSet::new();
    for p in &check.products {
        validate_sku(&p.sku)?;
        if !skus.insert(p.sku.as_str()) {
            return Err(Error::invalid(
                "products",
                format!("`{}` is listed twice", p.sku),
            ));
        }
    }
    for sku in &check.removed_products {
        validate_sku(sku)?;
        if skus.contains(sku.as_str()) {
            return Err(Error::invalid(
                "removed_products",
                format!("`{sku}` is both on display and removed"),
            ));
        }
    }
    if let Some(zone) = &check.new_product_zone {
        for sku in &zone.skus {
            validate_sku(sku)?;
        }
    }
    Ok(())
}

pub(crate) fn validate_sku(sku: &str) -> Result<()> {
    if sku.trim().is_empty() || sku.len() > 64 || sku.contains(',') {
        return Err(Error::invalid(
            "sku",
            format!("`{sku}` is not a product code (1–64 characters, no commas)"),
        ));
    }
    Ok(())
}

fn describe(check: &DisplayCheck) -> String {
    let mut parts: Vec<String> = check
        .standards
        .iter()
        .map(|s| format!("{} {}", s.standard.code(), s.verdict.code()))
        .collect();
    for p in &check.products {
        parts.push(format!(
            "{} tag {}",
            p.sku,
            if p.price_tag { "present" } else { "missing" }
        ));
    }
    for sku in &check.removed_products {
        parts.push(format!("{sku} removed"));
    }
    if let Some(zone) = &check.new_product_zone {
        parts.push(format!(
            "new-product zone {}",
            if zone.present { "present" } else { "absent" }
        ));
    }
    format!("check: {}", parts.join(", "))
}

impl DisplayCheck {
    fn is_empty(&self) -> bool {
        self.standards.is_empty()
            && self.products.is_empty()
            && self.removed_products.is_empty()
            && self.new_product_zone.is_none()
    }
}

fn checked_key(user: &str) -> String {
    format!("{CHECKED_PREFIX}{user}")
}

/// What of `check` changes the display: every standard and the zone as given, the products
/// whose tag or name differ from their one current value (a conflicted product is written,
/// so the check settles it), and the removals of products on display.
fn what_changes(doc: &Doc, check: &DisplayCheck) -> DisplayCheck {
    let products = check
        .products
        .iter()
        .filter(|p| {
            let key = format!("{PRODUCT_PREFIX}{}", p.sku);
            match doc.entries(&DOC_ROOT, &key) {
                Some(v) if v.others.is_empty() => {
                    v.current.value.bool("v") != Some(p.price_tag)
                        || v.current.value.str("name").as_deref() != Some(p.name.as_str())
                }
                _ => true,
            }
        })
        .cloned()
        .collect();
    let removed_products = check
        .removed_products
        .iter()
        .filter(|sku| {
            doc.scalar(&DOC_ROOT, &format!("{PRODUCT_PREFIX}{sku}"))
                .is_some()
        })
        .cloned()
        .collect();
    DisplayCheck {
        standards: check.standards.clone(),
        products,
        removed_products,
        new_product_zone: check.new_product_zone.clone(),
    }
}

fn apply_check(doc: &mut Doc, stamp: &Stamp, check: &DisplayCheck) -> Result<()> {
    for s in &check.standards {
        let key = format!("{STANDARD_PREFIX}{}", s.standard.code());
        let fields = vec![
            ("v", Scalar::from(s.verdict.code())),
            ("note", Scalar::from(s.note.as_str())),
            ("photos", Scalar::from(s.photos.join(",").as_str())),
        ];
        doc.put_entry(&DOC_ROOT, &key, fields, stamp)?;
    }
    for p in &check.products {
        let key = format!("{PRODUCT_PREFIX}{}", p.sku);
        let fields = vec![
            ("v", Scalar::Boolean(p.price_tag)),
            ("name", Scalar::from(p.name.as_str())),
        ];
        doc.put_entry(&DOC_ROOT, &key, fields, stamp)?;
    }
    for sku in &check.removed_products {
        doc.delete(&DOC_ROOT, &format!("{PRODUCT_PREFIX}{sku}"))?;
    }
    if let Some(zone) = &check.new_product_zone {
        let fields = vec![
            ("v", Scalar::Boolean(zone.present)),
            ("skus", Scalar::from(zone.skus.join(",").as_str())),
            ("note", Scalar::from(zone.note.as_str())),
        ];
        doc.put_entry(&DOC_ROOT, "new_product_zone", fields, stamp)?;
    }
    Ok(())
}

fn split_list(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

pub(crate) fn read(doc: &Doc) -> Result<ShelfDisplay> {
    // One pass over the root; only conflicted entries are read key by key.
    let root = doc
        .snapshot(&DOC_ROOT, None)
        .ok_or_else(|| doc.missing("root"))?;
    let mut standards = Vec::with_capacity(DisplayStandard::ALL.len());
    for standard in DisplayStandard::ALL {
        let key = format!("{STANDARD_PREFIX}{}", standard.code());
        let versions = match root.entry_versions(doc, &key) {
            Some(v) => Some(try_map(v, |f| {
                let verdict = Verdict::parse(&f.str("v").unwrap_or_default())
                    .map_err(|e| Error::corrupt(doc.id.as_str(), e.to_string()))?;
                Ok(StandardCheck {
                    standard,
                    verdict,
                    note: f.str("note").unwrap_or_default(),
                    photos: split_list(f.str("photos")),
                })
            })?),
            None => None,
        };
        standards.push((standard, versions));
    }
    let mut products = Vec::new();
    for key in root.keys() {
        let Some(sku) = key.strip_prefix(PRODUCT_PREFIX) else {
            continue;
        };
        let Some(entries) = root.entry_versions(doc, key) else {
            continue;
        };
        let name = entries.current.value.str("name").unwrap_or_default();
        let price_tag = try_map(entries, |f| Ok(f.bool("v").unwrap_or(false)))?;
        products.push(DisplayProduct {
            sku: sku.to_owned(),
            name,
            price_tag,
        });
    }
    products.sort_by(|a, b| a.sku.cmp(&b.sku));
    let new_product_zone = match root.entry_versions(doc, "new_product_zone") {
        Some(v) => Some(try_map(v, |f| {
            Ok(NewProductZone {
                present: f.bool("v").unwrap_or(false),
                skus: split_list(f.str("skus")),
                note: f.str("note").unwrap_or_default(),
            })
        })?),
        None => None,
    };
    let mut confirmed = Vec::new();
    for key in root.keys() {
        if key.starts_with(CHECKED_PREFIX)
            && let Some(versions) = root.entry_versions(doc, key)
        {
            confirmed.extend(versions.all().map(|w| Written {
                value: (),
                by: w.by.clone(),
                at: w.at,
            }));
        }
    }
    confirmed.sort_by(|a, b| (&a.by, a.at).cmp(&(&b.by, b.at)));
    let store_id = root
        .scalar("store_id")
        .and_then(crate::doc::scalar_str)
        .ok_or_else(|| doc.missing("store_id"))?;
    Ok(ShelfDisplay {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &store_id)?,
        standards,
        products,
        new_product_zone,
        confirmed,
    })
}

/// Converts every version of an entry, failing if any does not read.
pub(crate) fn try_map<T>(
    v: Versions<Fields>,
    read: impl Fn(&Fields) -> Result<T>,
) -> Result<Versions<T>> {
    let conv = |w: Written<Fields>| -> Result<Written<T>> {
        Ok(Written {
            value: read(&w.value)?,
            by: w.by,
            at: w.at,
        })
    };
    Ok(Versions {
        current: conv(v.current)?,
        others: v.others.into_iter().map(conv).collect::<Result<Vec<_>>>()?,
    })
}

/// What the display index is derived from: per entry of the document (`standard.<code>`,
/// `product.<sku>`, `new_product_zone`), whether it counts against the display and the
/// stamps of every value it holds, updated by each local check from what it wrote.
#[derive(Clone, Debug)]
pub(crate) struct DisplayRows {
    store_id: String,
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
enum Against {
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

    /// What a check that changed nothing wrote: its checker's mark.
    fn confirm(&mut self, stamp: &Stamp) {
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
    fn apply(&mut self, stamp: &Stamp, check: &DisplayCheck) {
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

    fn count(&self, against: Against) -> i64 {
        self.entries
            .values()
            .filter(|e| e.against == against)
            .count() as i64
    }

    /// Who checked, and when last: every stamp of every value, conflicting ones included.
    fn checkers(&self) -> HashMap<&str, i64> {
        let mut checkers: HashMap<&str, i64> = HashMap::new();
        for (by, at) in self.entries.values().flat_map(|e| e.stamps.iter()) {
            let last = checkers.entry(by.as_str()).or_insert(*at);
            *last = (*last).max(*at);
        }
        checkers
    }
}

pub(crate) fn index(tx: &Connection, doc: &mut Doc) -> Result<()> {
    if !matches!(doc.derived::<Derived>(), Some(Derived::Display(_))) {
        let rows = DisplayRows::of(&read(doc)?);
        doc.set_derived(Derived::Display(rows));
    }
    let id = doc.id.clone();
    let Some(Derived::Display(rows)) = doc.derived::<Derived>() else {
        return Err(doc.missing("root"));
    };
    write_rows(tx, &id, rows)
}

/// Writes a display's index rows.
pub(crate) fn write_rows(tx: &Connection, id: &DocId, rows: &DisplayRows) -> Result<()> {
    let checkers = rows.checkers();
    let last_checked = checkers.values().copied().max();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO display_index (id, store_id, missing_tags, failed_standards, last_checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        id.as_str(),
        rows.store_id,
        rows.count(Against::MissingTag),
        rows.count(Against::FailedStandard),
        last_checked,
    ])?;
    tx.prepare_cached("DELETE FROM display_check_index WHERE display_id = ?1")?
        .execute([id.as_str()])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO display_check_index (display_id, checker, last_at) VALUES (?1, ?2, ?3)",
    )?;
    for (checker, at) in checkers {
        if !checker.is_empty() {
            insert.execute(params![id.as_str(), checker, at])?;
        }
    }
    Ok(())
}
