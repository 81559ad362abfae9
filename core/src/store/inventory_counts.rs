//! The typed API of inventory counts and their index row: starting a count (or recording
//! one whole), adding lines, counting, finishing, and `count_index`. The document itself is
//! defined in `crate::kinds::inventory_count`.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, stamped_value, str_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::inventory_count::{
    CountIndexRow, CountRows, InventoryCount, NewCountLine, NewInventoryCount, read,
};
use crate::kinds::shelf_display::validate_sku;
use crate::store::LocalStore;
use crate::store::index::Derived;
use crate::store::retail_stores::store_facts;

impl LocalStore {
    /// Starts a count in a store. Refuses an unknown store, a duplicated or empty sku and a
    /// negative book quantity.
    pub fn create_inventory_count(&self, new: NewInventoryCount) -> Result<DocId> {
        self.create_count(new, &[], false)
    }

    /// Records a count taken whole: its lines, their counted quantities and, when `finish`,
    /// its closing, all in the change that creates it. For a count entered at once (from
    /// paper or a scanner, or a visit saved whole at check-out); the document is the same
    /// as one started by [`create_inventory_count`](Self::create_inventory_count) and
    /// filled by [`set_counted_many`](Self::set_counted_many) and
    /// [`finish_count`](Self::finish_count) at this instant, in one change instead of three.
    /// Refuses what those refuse: a negative quantity, a sku that is not a line, a sku
    /// counted twice, and finishing while a line has no counted quantity.
    pub fn record_inventory_count(
        &self,
        new: NewInventoryCount,
        counted: &[(String, i64)],
        finish: bool,
    ) -> Result<DocId> {
        self.create_count(new, counted, finish)
    }

    fn create_count(
        &self,
        new: NewInventoryCount,
        counted: &[(String, i64)],
        finish: bool,
    ) -> Result<DocId> {
        let mut seen = HashSet::new();
        for line in &new.lines {
            validate_line(line)?;
            if !seen.insert(line.sku.as_str()) {
                return Err(Error::invalid(
                    "lines",
                    format!("`{}` is listed twice", line.sku),
                ));
            }
        }
        validate_counted(&new.lines, counted, finish)?;
        self.create_doc(DocKind::InventoryCount, |conn, stamp| {
            store_facts(conn, "store_id", &new.store_id)?;
            let book: HashMap<&str, HydrateValue> = new
                .lines
                .iter()
                .map(|l| (l.sku.as_str(), HydrateValue::from(l.book)))
                .collect();
            let names: HashMap<&str, HydrateValue> = new
                .lines
                .iter()
                .map(|l| (l.sku.as_str(), str_value(&l.name)))
                .collect();
            let counted: HashMap<&str, HydrateValue> = counted
                .iter()
                .map(|(sku, qty)| (sku.as_str(), stamped_value(*qty, stamp)))
                .collect();
            let mut fields = HashMap::from([
                ("store_id", str_value(new.store_id.as_str())),
                ("started_by", str_value(&stamp.by)),
                ("started_at", HydrateValue::from(stamp.at.0)),
                ("book", HydrateValue::from(book)),
                ("names", HydrateValue::from(names)),
                ("counted", HydrateValue::from(counted)),
            ]);
            if finish {
                fields.insert("finished", stamped_value(true, stamp));
            }
            Ok(fields)
        })
    }

    /// Reads a count.
    pub fn inventory_count(&self, id: &DocId) -> Result<InventoryCount> {
        self.read_doc(id, DocKind::InventoryCount, read)
    }

    /// Adds a sku to an unfinished count (a product found on the shelf but not in the book
    /// list has book 0).
    pub fn add_count_line(&self, id: &DocId, line: NewCountLine) -> Result<()> {
        validate_line(&line)?;
        self.edit_doc(
            id,
            DocKind::InventoryCount,
            &format!("add line {}", line.sku),
            |doc, _, _| {
                refuse_if_finished(doc)?;
                let book = doc.container(&DOC_ROOT, "book")?;
                if doc.i64(&book, &line.sku).is_some() {
                    return Err(Error::invalid(
                        "sku",
                        format!("`{}` is already a line of this count", line.sku),
                    ));
                }
                doc.put(&book, &line.sku, line.book)?;
                let names = doc.container(&DOC_ROOT, "names")?;
                doc.put(&names, &line.sku, line.name.as_str())?;
                update_rows(doc, |rows| {
                    rows.book.insert(line.sku.clone(), line.book);
                });
                Ok(())
            },
        )
    }

    /// Records the counted quantity of one sku (the common single edit during a count).
    pub fn set_counted(&self, id: &DocId, sku: &str, counted: i64) -> Result<()> {
        self.set_counted_many(id, &[(sku.to_owned(), counted)])
    }

    /// Records several counted quantities in one change.
    pub fn set_counted_many(&self, id: &DocId, counts: &[(String, i64)]) -> Result<()> {
        for (sku, qty) in counts {
            if *qty < 0 {
                return Err(Error::invalid(
                    format!("counted.{sku}"),
                    format!("count for `{sku}` must not be negative (got `{qty}`)"),
                ));
            }
        }
        let what = match counts {
            [(sku, qty)] => format!("count {sku} = {qty}"),
            _ => format!("count {} lines", counts.len()),
        };
        self.edit_doc(id, DocKind::InventoryCount, &what, |doc, stamp, _| {
            refuse_if_finished(doc)?;
            let book = doc
                .obj(&DOC_ROOT, "book")
                .ok_or_else(|| doc.missing("book"))?;
            let counted = doc.container(&DOC_ROOT, "counted")?;
            for (sku, qty) in counts {
                if doc.i64(&book, sku).is_none() {
                    return Err(Error::invalid(
                        "sku",
                        format!("`{sku}` is not a line of this count"),
                    ));
                }
                doc.put_stamped(&counted, sku, *qty, stamp)?;
            }
            // Each put replaced every value the sku had: it is the current one now.
            update_rows(doc, |rows| {
                for (sku, qty) in counts {
                    rows.counted.insert(sku.clone(), *qty);
                }
            });
            Ok(())
        })
    }

    /// Closes the count. Refuses while a line has no counted quantity, so an error rate
    /// can never be improved by leaving a line out.
    pub fn finish_count(&self, id: &DocId) -> Result<()> {
        self.edit_doc(id, DocKind::InventoryCount, "finish", |doc, stamp, _| {
            refuse_if_finished(doc)?;
            let book = doc
                .obj(&DOC_ROOT, "book")
                .ok_or_else(|| doc.missing("book"))?;
            let counted: std::collections::HashSet<String> = doc
                .obj(&DOC_ROOT, "counted")
                .map(|c| doc.keys(&c).into_iter().collect())
                .unwrap_or_default();
            let mut skus = doc.keys(&book);
            skus.sort();
            if let Some(sku) = skus.iter().find(|sku| !counted.contains(*sku)) {
                return Err(Error::invalid(
                    "lines",
                    format!("`{sku}` has no counted quantity yet"),
                ));
            }
            doc.put_stamped(&DOC_ROOT, "finished", true, stamp)?;
            update_rows(doc, |rows| rows.finished_at = Some(stamp.at.0));
            Ok(())
        })
    }

    /// Counts of a store, newest first.
    pub fn inventory_counts_of_store(&self, store_id: &DocId) -> Result<Vec<DocId>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id FROM count_index WHERE store_id = ?1 ORDER BY started_at DESC",
        )?;
        let ids = stmt
            .query_map([store_id.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|s| DocId::parse("id", s)).collect()
    }
}

fn validate_line(line: &NewCountLine) -> Result<()> {
    validate_sku(&line.sku)?;
    if line.book < 0 {
        return Err(Error::invalid(
            format!("book.{}", line.sku),
            format!(
                "book quantity for `{}` must not be negative (got `{}`)",
                line.sku, line.book
            ),
        ));
    }
    Ok(())
}

/// The counted quantities given with a new count: each of a line, once, not negative; and
/// every line counted when the count is finished with them.
fn validate_counted(lines: &[NewCountLine], counted: &[(String, i64)], finish: bool) -> Result<()> {
    let skus: HashSet<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let mut seen = HashSet::new();
    for (sku, qty) in counted {
        if *qty < 0 {
            return Err(Error::invalid(
                format!("counted.{sku}"),
                format!("count for `{sku}` must not be negative (got `{qty}`)"),
            ));
        }
        if !skus.contains(sku.as_str()) {
            return Err(Error::invalid(
                "sku",
                format!("`{sku}` is not a line of this count"),
            ));
        }
        if !seen.insert(sku.as_str()) {
            return Err(Error::invalid(
                "counted",
                format!("`{sku}` is counted twice"),
            ));
        }
    }
    if finish {
        let mut missing: Vec<&str> = skus.difference(&seen).copied().collect();
        missing.sort_unstable();
        if let Some(sku) = missing.first() {
            return Err(Error::invalid(
                "lines",
                format!("`{sku}` has no counted quantity yet"),
            ));
        }
    }
    Ok(())
}

fn refuse_if_finished(doc: &Doc) -> Result<()> {
    if doc.stamped(&DOC_ROOT, "finished").is_some() {
        return Err(Error::invalid(
            "count",
            format!("count `{}` is finished", doc.id),
        ));
    }
    Ok(())
}

/// Applies a local edit's writes to the count's derived rows.
fn update_rows(doc: &mut Doc, update: impl FnOnce(&mut CountRows)) {
    doc.update_derived(|derived: &mut Derived| match derived {
        Derived::Count(rows) => {
            update(rows);
            true
        }
        _ => false,
    });
}

/// The count index row of a count: (store, started, finished, lines, counted lines,
/// Σ book, Σ |diff|), the sums over the counted lines. Σ |diff| is real even where Σ book
/// is 0, and the number of counted lines tells "nothing counted" from "book total 0".
pub(crate) fn index(tx: &Connection, doc: &mut Doc) -> Result<()> {
    if !matches!(doc.derived::<Derived>(), Some(Derived::Count(_))) {
        let rows = CountRows::read(doc)?;
        doc.set_derived(Derived::Count(rows));
    }
    let id = doc.id.clone();
    let Some(Derived::Count(rows)) = doc.derived::<Derived>() else {
        return Err(doc.missing("root"));
    };
    write_rows(tx, &id, rows)
}

/// Writes a count's index row.
pub(crate) fn write_rows(tx: &Connection, id: &DocId, rows: &CountRows) -> Result<()> {
    write_index_row(tx, id, rows.index_row())
}

/// Writes a count's row of `count_index` as it is.
pub(crate) fn write_index_row(tx: &Connection, id: &DocId, row: CountIndexRow) -> Result<()> {
    let (store_id, started_at, finished_at, lines, counted_lines, book_total, abs_diff) = row;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO count_index (id, store_id, started_at, finished_at, lines, counted_lines,
         book_total, abs_diff_total) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id.as_str(),
        store_id,
        started_at,
        finished_at,
        lines,
        counted_lines,
        book_total,
        abs_diff,
    ])?;
    Ok(())
}
