//! Shelf displays across the boundary: record a check (R6 standards, products with their
//! price tags, the new-product zone), mark one standard, read it back with every
//! concurrent verdict.

use fieldsync_core as fc;

use crate::conflict::{BoolVersions, StandardCheckVersions, ZoneVersions};
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;

/// The display standards of the demo street (R6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DisplayStandard {
    PriceTagBox,
    PriceTags,
    NewProductZone,
    UnifiedDisplay,
    PackDisplay,
    CartonDisplay,
    TidyCounter,
    BrightStorefront,
}

/// The verdict on one standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Verdict {
    Pass,
    Fail,
    NotApplicable,
}

/// One standard as checked: verdict, note, photo content hashes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StandardCheckRecord {
    pub standard: DisplayStandard,
    pub verdict: Verdict,
    pub note: String,
    pub photos: Vec<String>,
}

/// A product seen on display and whether its price tag is there (R2).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProductOnDisplayRecord {
    pub sku: String,
    pub name: String,
    pub price_tag: bool,
}

/// The new-product display zone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewProductZoneRecord {
    pub present: bool,
    pub skus: Vec<String>,
    pub note: String,
}

/// What a checker records in one go; every part may be empty.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DisplayCheckRecord {
    pub standards: Vec<StandardCheckRecord>,
    pub products: Vec<ProductOnDisplayRecord>,
    pub removed_products: Vec<String>,
    pub new_product_zone: Option<NewProductZoneRecord>,
}

/// A standard with its verdicts, once checked.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StandardStatus {
    pub standard: DisplayStandard,
    pub check: Option<StandardCheckVersions>,
}

/// A product on display as read back, with every concurrent verdict on its tag.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DisplayProductRecord {
    pub sku: String,
    pub name: String,
    pub price_tag: BoolVersions,
}

/// Who checked, and when.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckMark {
    pub by: String,
    pub at: Instant,
}

/// A shelf display as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ShelfDisplayRecord {
    pub id: String,
    pub store_id: String,
    pub standards: Vec<StandardStatus>,
    pub products: Vec<DisplayProductRecord>,
    pub new_product_zone: Option<ZoneVersions>,
    /// The latest check of each checker, whatever it changed: every check leaves its
    /// checker's mark, which outlives what it wrote when a later checker writes over it.
    pub confirmed: Vec<CheckMark>,
    /// Skus whose price tag is missing, by the current verdicts (R2).
    pub missing_price_tags: Vec<String>,
    /// More than 3 missing price tags (R2).
    pub violates_price_tag_rule: bool,
    pub failed_standards: Vec<DisplayStandard>,
}

#[uniffi::export]
impl FieldStore {
    /// The id of a store's shelf display, whether or not this device has it yet.
    pub fn shelf_display_id(&self, store_id: String) -> Result<String, FieldError> {
        let store = parse::id("store_id", &store_id)?;
        Ok(fc::LocalStore::shelf_display_id(&store).to_string())
    }

    /// Starts a store's shelf display (the server's import usually has); returns its id.
    pub fn create_shelf_display(&self, store_id: String) -> Result<String, FieldError> {
        let store = parse::id("store_id", &store_id)?;
        self.create(|s| s.create_shelf_display(&store))
    }

    pub fn shelf_display(&self, id: String) -> Result<ShelfDisplayRecord, FieldError> {
        let display = self.core.shelf_display(&parse::id("id", &id)?)?;
        Ok(display.into())
    }

    /// The display as it was at the end of `at`, by the checkers' clocks.
    pub fn shelf_display_as_of(
        &self,
        id: String,
        at: Instant,
    ) -> Result<ShelfDisplayRecord, FieldError> {
        let display = self
            .core
            .shelf_display_as_of(&parse::id("id", &id)?, at.timestamp("at")?)?;
        Ok(display.into())
    }

    /// Records a check in one change; refuses unknown or duplicated entries and empty skus.
    pub fn record_display_check(
        &self,
        id: String,
        check: DisplayCheckRecord,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        let check = fc::DisplayCheck {
            standards: check.standards.into_iter().map(Into::into).collect(),
            products: check
                .products
                .into_iter()
                .map(|p| fc::ProductOnDisplay {
                    sku: p.sku,
                    name: p.name,
                    price_tag: p.price_tag,
                })
                .collect(),
            removed_products: check.removed_products,
            new_product_zone: check.new_product_zone.map(Into::into),
        };
        self.write(&[&id], |s| s.record_display_check(&doc, &check))
    }

    /// Marks one standard (the common single edit during a visit).
    pub fn mark_display_standard(
        &self,
        id: String,
        standard: DisplayStandard,
        verdict: Verdict,
        note: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| {
            s.mark_display_standard(&doc, standard.into(), verdict.into(), &note)
        })
    }
}

same_variants!(
    DisplayStandard,
    fc::DisplayStandard,
    PriceTagBox,
    PriceTags,
    NewProductZone,
    UnifiedDisplay,
    PackDisplay,
    CartonDisplay,
    TidyCounter,
    BrightStorefront,
);
same_variants!(Verdict, fc::Verdict, Pass, Fail, NotApplicable);

impl From<StandardCheckRecord> for fc::StandardCheck {
    fn from(c: StandardCheckRecord) -> Self {
        fc::StandardCheck {
            standard: c.standard.into(),
            verdict: c.verdict.into(),
            note: c.note,
            photos: c.photos,
        }
    }
}

impl From<fc::StandardCheck> for StandardCheckRecord {
    fn from(c: fc::StandardCheck) -> Self {
        StandardCheckRecord {
            standard: c.standard.into(),
            verdict: c.verdict.into(),
            note: c.note,
            photos: c.photos,
        }
    }
}

impl From<NewProductZoneRecord> for fc::NewProductZone {
    fn from(z: NewProductZoneRecord) -> Self {
        fc::NewProductZone {
            present: z.present,
            skus: z.skus,
            note: z.note,
        }
    }
}

impl From<fc::NewProductZone> for NewProductZoneRecord {
    fn from(z: fc::NewProductZone) -> Self {
        NewProductZoneRecord {
            present: z.present,
            skus: z.skus,
            note: z.note,
        }
    }
}

impl From<fc::ShelfDisplay> for ShelfDisplayRecord {
    fn from(d: fc::ShelfDisplay) -> Self {
        let missing_price_tags = d
            .missing_price_tags()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let violates_price_tag_rule = d.violates_price_tag_rule();
        let failed_standards = d.failed_standards().into_iter().map(Into::into).collect();
        ShelfDisplayRecord {
            id: d.id.to_string(),
            store_id: d.store_id.to_string(),
            standards: d
                .standards
                .into_iter()
                .map(|(standard, check)| StandardStatus {
                    standard: standard.into(),
                    check: check.map(Into::into),
                })
                .collect(),
            products: d
                .products
                .into_iter()
                .map(|p| DisplayProductRecord {
                    sku: p.sku,
                    name: p.name,
                    price_tag: p.price_tag.into(),
                })
                .collect(),
            new_product_zone: d.new_product_zone.map(Into::into),
            confirmed: d
                .confirmed
                .into_iter()
                .map(|w| CheckMark {
                    by: w.by,
                    at: w.at.into(),
                })
                .collect(),
            missing_price_tags,
            violates_price_tag_rule,
            failed_standards,
        }
    }
}
