//! The typed API of shelf displays and their index rows: starting a store's display,
//! reading it (now or as of an instant), recording checks, and `display_index` with
//! `display_check_index`. The document itself is defined in `crate::kinds::shelf_display`.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, Scalar, Stamp, str_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::shelf_display::{
    DisplayCheck, DisplayRows, DisplayStandard, PRODUCT_PREFIX, STANDARD_PREFIX, ShelfDisplay,
    StandardCheck, Verdict, checked_key, read, validate_sku,
};
use crate::store::LocalStore;
use crate::store::index::Derived;
use crate::store::retail_stores::store_facts;
use crate::time::Timestamp;

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
            let writes = doc.reading(|doc| what_changes(doc, check));
            // Every check leaves its checker's mark, whatever it changed (R5's daily check):
            // the values it wrote may be written over by the next checker the same day (the
            // market team's walk after the account manager's check), and a removal leaves
            // no value at all.
            let mark = !check.is_empty();
            apply_check(doc, stamp, &writes)?;
            if mark {
                doc.put_entry(&DOC_ROOT, &checked_key(&stamp.by), Vec::new(), stamp)?;
            }
            doc.update_derived(|derived: &mut Derived| match derived {
                Derived::Display(rows) => {
                    rows.apply(stamp, &writes);
                    if mark {
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
            crate::kinds::visit::validate_photo_hash(hash)?;
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
    let (missing, failed, checkers) = rows.index_values();
    write_index(tx, id, &rows.store_id, (missing, failed), &checkers)
}

/// Writes a display's rows of `display_index` (`missing`, `failed`: products missing
/// their tag and standards failed) and `display_check_index` as they are.
pub(crate) fn write_index(
    tx: &Connection,
    id: &DocId,
    store_id: &str,
    (missing, failed): (i64, i64),
    checkers: &[(String, i64)],
) -> Result<()> {
    let last_checked = checkers.iter().map(|(_, at)| *at).max();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO display_index (id, store_id, missing_tags, failed_standards, last_checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id.as_str(), store_id, missing, failed, last_checked])?;
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
