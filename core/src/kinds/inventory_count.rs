//! The inventory count document's schema and value rules: lines of book and counted
//! quantities (R3), counted by several people at once.

use super::shape::{Field, KeyRule, Ty, opt, req};
use crate::doc::{DOC_ROOT, Doc};
use crate::kinds::RuleViolation;

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
/// not exist would be silently left out of the error rate), and a finished count has every
/// line counted.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let keys = |key: &str| {
        doc.obj(&DOC_ROOT, key)
            .map(|o| doc.keys(&o))
            .unwrap_or_default()
    };
    let book: std::collections::HashSet<String> = keys("book").into_iter().collect();
    for map in ["counted", "names"] {
        if let Some(sku) = keys(map).into_iter().find(|s| !book.contains(s)) {
            return Err(RuleViolation::at(
                "value",
                format!("{map}.{}", super::shape::quote(&sku)),
                "is not a line of this count's book",
            ));
        }
    }
    if doc.scalar(&DOC_ROOT, "finished").is_some() {
        let counted: std::collections::HashSet<String> = keys("counted").into_iter().collect();
        let mut missing: Vec<&String> = book.iter().filter(|s| !counted.contains(*s)).collect();
        missing.sort();
        if let Some(sku) = missing.first() {
            return Err(RuleViolation::at(
                "value",
                "finished",
                format!(
                    "line `{}` has no counted quantity yet",
                    super::shape::quote(sku)
                ),
            ));
        }
    }
    crate::store::inventory_counts::read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    Ok(())
}
