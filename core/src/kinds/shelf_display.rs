//! The shelf display document: one per store, long-lived, checked by everyone who visits;
//! its schema, value rules, typed form and reader ([`read`]), and its index rows.
//!
//! The account manager checks it daily on the demo street, the market team weekly, a
//! supervisor monthly (R5). Each check records the R6 standards as pass / fail / n.a. with
//! a note, and the products on display with whether each has its price tag (R2).
//!
//! Everything lives in stamped entries at the document's root (`standard.<code>`,
//! `product.<sku>`, `new_product_zone`, `checked.<user>`) and the id is derived from the
//! store's id, so two phones that start a store's display offline start the *same*
//! document and their checks merge. Two verdicts on one standard made concurrently are both
//! kept and shown as a conflict; the history answers "what did this shelf look like on
//! date X, and who changed what".
//!
//! A check writes every standard it gives (who checked it and when is part of a verdict)
//! but only the products whose tag or name it changes: a product's stamp says who last
//! changed it, so a tag missing for three weeks reads as missing since its first check,
//! and a check of twenty unchanged products costs no twenty writes. A check that changes
//! nothing at all leaves its checker's mark (`checked.<user>`), so R5 still sees it.

mod read;
mod rows;

pub use read::{
    DisplayCheck, DisplayProduct, DisplayStandard, NewProductZone, ProductOnDisplay, ShelfDisplay,
    StandardCheck, Verdict,
};
pub(crate) use read::{PRODUCT_PREFIX, STANDARD_PREFIX, checked_key, is_check_entry, read};
pub(crate) use rows::DisplayRows;

use super::shape::{Field, KeyRule, Ty, opt, prefixed, req};
use super::visit::MAX_NOTE;
use crate::doc::{DOC_ROOT, Doc};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::RuleViolation;

pub(crate) const STANDARDS: &[&str] = &[
    "price_tag_box",
    "price_tags",
    "new_product_zone",
    "unified_display",
    "pack_display",
    "carton_display",
    "tidy_counter",
    "bright_storefront",
];
pub(crate) const VERDICTS: &[&str] = &["pass", "fail", "na"];

/// The most products a display lists.
pub(crate) const MAX_PRODUCTS: usize = 500;

/// Every field of a shelf display document.
pub(crate) const FIELDS: &[Field] = &[
    req("store_id", Ty::Id),
    prefixed(
        "standard.",
        KeyRule::Code(STANDARDS),
        Ty::Entry(&[
            req("v", Ty::Code(VERDICTS)),
            opt(
                "note",
                Ty::Str {
                    min: 0,
                    max: MAX_NOTE,
                },
            ),
            opt(
                "photos",
                Ty::List {
                    item: KeyRule::PhotoHash,
                    max: 20,
                },
            ),
        ]),
    ),
    prefixed(
        "product.",
        KeyRule::Sku,
        Ty::Entry(&[
            req("v", Ty::Bool),
            opt("name", Ty::Str { min: 0, max: 200 }),
        ]),
    ),
    opt(
        "new_product_zone",
        Ty::Entry(&[
            req("v", Ty::Bool),
            opt(
                "skus",
                Ty::List {
                    item: KeyRule::Sku,
                    max: 200,
                },
            ),
            opt(
                "note",
                Ty::Str {
                    min: 0,
                    max: MAX_NOTE,
                },
            ),
        ]),
    ),
    prefixed("checked.", KeyRule::User, Ty::Entry(&[])),
    // A check's photos as root entries `photo.<hash>` (with the standard each shows).
    prefixed(
        super::visit::PHOTO_PREFIX,
        KeyRule::PhotoHash,
        Ty::Entry(super::visit::PHOTO_ENTRY),
    ),
];

/// The display of a store has the id derived from the store's (so two phones that start it
/// offline start the same document), lists a bounded number of products, and each
/// `checked.<user>` mark is that user's own.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let store = doc.str(&DOC_ROOT, "store_id").unwrap_or_default();
    let store = DocId::parse("store_id", &store).map_err(|e| RuleViolation::unreadable(&e))?;
    if DocId::derived(DocKind::ShelfDisplay, &store) != doc.id {
        return Err(RuleViolation::at(
            "value",
            "id",
            "a shelf display's id is derived from its store's id (see the protocol)",
        ));
    }
    let keys = doc.keys(&DOC_ROOT);
    let products = keys.iter().filter(|k| k.starts_with("product.")).count();
    if products > MAX_PRODUCTS {
        return Err(RuleViolation::at(
            "quota",
            "product",
            format!("a display lists at most {MAX_PRODUCTS} products"),
        ));
    }
    for key in keys.iter().filter(|k| k.starts_with("checked.")) {
        let user = &key["checked.".len()..];
        if let Some(versions) = doc.entries(&DOC_ROOT, key)
            && versions.all().any(|w| w.by != user)
        {
            return Err(RuleViolation::at(
                "value",
                super::shape::quote(key),
                "a `checked.<user>` mark is written by that user",
            ));
        }
    }
    read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    Ok(())
}

pub(crate) fn validate_sku(sku: &str) -> Result<()> {
    if !crate::kinds::shape::KeyRule::Sku.accepts(sku) {
        return Err(Error::invalid(
            "sku",
            format!(
                "`{}` is not a product code (1–64 characters, not blank, no commas, control or invisible characters)",
                sku.escape_debug()
            ),
        ));
    }
    Ok(())
}
