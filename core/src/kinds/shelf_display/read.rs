//! A shelf display as the app reads it: the typed form of the document (now, or as it was
//! at an instant) and its reader.

use crate::doc::{DOC_ROOT, Doc, Fields, Versions, Written};
use crate::error::{Error, Result};
use crate::ids::DocId;

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
    /// The latest check of each checker, whatever it changed (several for one person after
    /// concurrent checks on two phones): every check leaves its checker's mark, which
    /// outlives the values it wrote when a later checker writes over them (R5).
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

pub(crate) const STANDARD_PREFIX: &str = "standard.";
pub(crate) const PRODUCT_PREFIX: &str = "product.";
pub(crate) const CHECKED_PREFIX: &str = "checked.";

impl DisplayCheck {
    pub(crate) fn is_empty(&self) -> bool {
        self.standards.is_empty()
            && self.products.is_empty()
            && self.removed_products.is_empty()
            && self.new_product_zone.is_none()
    }
}

pub(crate) fn checked_key(user: &str) -> String {
    format!("{CHECKED_PREFIX}{user}")
}

/// Whether an entry at `key` is one whose stamp the display's index counts as its author's
/// check (R5, `display_check_index`): a standard, a product, the new-product zone or a
/// checker's mark. The protocol makes none of them required, the mark included, so a check
/// is any of them its author stamped.
pub(crate) fn is_check_entry(key: &str) -> bool {
    key.strip_prefix(STANDARD_PREFIX)
        .is_some_and(|code| DisplayStandard::ALL.iter().any(|s| s.code() == code))
        || key.starts_with(PRODUCT_PREFIX)
        || key == "new_product_zone"
        || key.starts_with(CHECKED_PREFIX)
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
