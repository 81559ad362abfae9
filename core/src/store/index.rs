//! The index tables: each document's rows, written by its kind's module under `store/` in
//! the transaction that stores the document, and the rows some kinds keep with a loaded
//! document ([`Derived`]).

use rusqlite::Connection;

use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

pub(crate) fn reindex(tx: &Connection, doc: &mut Doc) -> Result<()> {
    match doc.kind {
        DocKind::Store => crate::store::retail_stores::index(tx, doc),
        DocKind::Visit => crate::store::visits::index(tx, doc),
        DocKind::ShelfDisplay => crate::store::shelf_displays::index(tx, doc),
        DocKind::InventoryCount => crate::store::inventory_counts::index(tx, doc),
        DocKind::Scorecard => crate::store::scorecards::index(tx, doc),
        DocKind::Task => crate::store::tasks::index(tx, doc),
        DocKind::Complaint => crate::store::complaints::index(tx, doc),
    }
}

/// What a kind derives from a document for the index tables, kept with the loaded
/// document (see `crate::doc::derived`) so that a local edit updates the rows from what
/// it wrote instead of reading the whole document again.
#[derive(Debug, Clone)]
pub(crate) enum Derived {
    Count(crate::kinds::inventory_count::CountRows),
    Display(crate::kinds::shelf_display::DisplayRows),
    Visit(crate::kinds::visit::VisitRow),
}

/// The rows of the kinds that keep them with a loaded document, read from `doc` as it is
/// (inside [`Doc::reading`], the maps the checks read are not read again); `None` for the
/// other kinds, whose index reads the document when it is written.
pub(crate) fn derive(doc: &Doc) -> Result<Option<Derived>> {
    Ok(match doc.kind {
        DocKind::Visit => Some(Derived::Visit(crate::kinds::visit::VisitRow::read(doc)?)),
        DocKind::InventoryCount => Some(Derived::Count(
            crate::kinds::inventory_count::CountRows::read(doc)?,
        )),
        DocKind::ShelfDisplay => Some(Derived::Display(
            crate::kinds::shelf_display::DisplayRows::of(&crate::kinds::shelf_display::read(doc)?),
        )),
        _ => None,
    })
}

/// Writes index rows derived on a worker, for a document that is not at hand.
pub(crate) fn write_rows(tx: &Connection, id: &DocId, kind: DocKind, rows: &Derived) -> Result<()> {
    match (kind, rows) {
        (DocKind::Visit, Derived::Visit(row)) => crate::store::visits::write_row(tx, id, row),
        (DocKind::InventoryCount, Derived::Count(rows)) => {
            crate::store::inventory_counts::write_rows(tx, id, rows)
        }
        (DocKind::ShelfDisplay, Derived::Display(rows)) => {
            crate::store::shelf_displays::write_rows(tx, id, rows)
        }
        _ => Err(Error::invalid(
            "changes",
            format!("index rows of another kind were derived for {kind} `{id}`"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures::{at, device, exchange, sample_store};
    use crate::store::LocalStore;
    use crate::{
        DisplayCheck, DisplayStandard, NewCountLine, NewInventoryCount, NewProductZone,
        ProductOnDisplay, StandardCheck, Verdict,
    };

    /// The rows `queries` return, each as one line (text as it is, other values as Debug).
    pub(crate) fn table_rows(db: &LocalStore, queries: &[&str]) -> Result<Vec<String>> {
        let inner = db.lock()?;
        let mut rows = Vec::new();
        for sql in queries {
            let mut stmt = inner.conn.prepare(sql)?;
            let mut query = stmt.query([])?;
            while let Some(row) = query.next()? {
                let cells = (0..row.as_ref().column_count())
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            other => format!("{other:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows.push(cells.join("|"));
            }
        }
        Ok(rows)
    }

    /// Every row of the index tables local edits update in place, in a fixed order.
    fn derived_rows(db: &LocalStore) -> Result<Vec<String>> {
        table_rows(
            db,
            &[
                "SELECT id, store_id, missing_tags, failed_standards, last_checked_at FROM display_index ORDER BY id",
                "SELECT display_id, checker, last_at FROM display_check_index ORDER BY display_id, checker",
                "SELECT id, store_id, started_at, finished_at, lines, book_total, abs_diff_total FROM count_index ORDER BY id",
            ],
        )
    }

    /// Derives every document's index rows again from the document read whole, as a
    /// freshly loaded document is indexed.
    fn reindex_from_documents(db: &LocalStore) -> Result<()> {
        let mut inner = db.lock()?;
        inner.cache.clear();
        let docs: Vec<(String, String)> = inner
            .conn
            .prepare("SELECT id, kind FROM documents")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut loaded = docs
            .iter()
            .map(|(id, kind)| inner.take_doc(&DocId::parse("id", id)?, DocKind::parse(kind)?))
            .collect::<Result<Vec<_>>>()?;
        let tx = inner.conn.unchecked_transaction()?;
        for doc in &mut loaded {
            reindex(&tx, doc)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn check(by_product: &[(&str, bool)], fail: &[DisplayStandard]) -> DisplayCheck {
        DisplayCheck {
            standards: DisplayStandard::ALL
                .iter()
                .map(|&standard| StandardCheck {
                    standard,
                    verdict: if fail.contains(&standard) {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    note: String::new(),
                    photos: Vec::new(),
                })
                .collect(),
            products: by_product
                .iter()
                .map(|(sku, tag)| ProductOnDisplay {
                    sku: (*sku).to_owned(),
                    name: format!("{sku} 20s"),
                    price_tag: *tag,
                })
                .collect(),
            ..DisplayCheck::default()
        }
    }

    #[test]
    fn index_rows_a_local_edit_updates_in_place_equal_those_derived_from_the_whole_document()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (a, clock_a) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let (b, clock_b) = device(
            dir.path().join("b.db"),
            "sup-wang",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = a.create_store(sample_store("am-li", 1))?;
        let display = a.create_shelf_display(&store)?;
        let line = |sku: &str, book: i64| NewCountLine {
            sku: sku.to_owned(),
            name: sku.to_owned(),
            book,
        };
        let count = a.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: vec![line("s1", 10), line("s2", 20), line("s3", 0)],
        })?;
        clock_a.advance_minutes(5);
        a.record_display_check(&display, &check(&[("p1", false), ("p2", false)], &[]))?;
        a.set_counted(&count, "s1", 9)?;
        exchange(&a, &b)?;
        // Concurrent edits on both phones, so that some entries hold two values.
        clock_a.advance_minutes(5);
        clock_b.advance_minutes(7);
        a.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "faded")?;
        b.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Pass, "")?;
        b.record_display_check(
            &display,
            &check(
                &[("p2", true), ("p3", false)],
                &[DisplayStandard::TidyCounter],
            ),
        )?;
        a.set_counted_many(&count, &[("s1".to_owned(), 12), ("s2".to_owned(), 15)])?;
        b.set_counted(&count, "s1", 7)?;
        exchange(&b, &a)?;
        // Products as they are: only the standards are written.
        clock_a.advance_minutes(5);
        a.record_display_check(&display, &check(&[("p2", true), ("p3", false)], &[]))?;
        // Products only, all as they are: the check leaves its checker's mark.
        clock_a.advance_minutes(5);
        a.record_display_check(
            &display,
            &DisplayCheck {
                products: check(&[("p3", false)], &[]).products,
                ..DisplayCheck::default()
            },
        )?;
        clock_a.advance_minutes(5);
        a.record_display_check(
            &display,
            &DisplayCheck {
                removed_products: vec!["p1".to_owned()],
                new_product_zone: Some(NewProductZone {
                    present: true,
                    skus: vec!["p9".to_owned()],
                    note: String::new(),
                }),
                ..DisplayCheck::default()
            },
        )?;
        assert!(
            a.set_counted(&count, "nope", 1).is_err(),
            "an unknown sku is refused"
        );
        a.add_count_line(&count, line("s4", 5))?;
        a.set_counted_many(&count, &[("s3".to_owned(), 1), ("s4".to_owned(), 5)])?;
        a.set_counted(&count, "s2", 21)?;
        a.finish_count(&count)?;
        {
            let mut inner = a.lock()?;
            let doc = inner.take_doc(&count, DocKind::InventoryCount)?;
            assert_eq!(
                crate::kinds::inventory_count::CountRows::read(&doc)?,
                crate::kinds::inventory_count::CountRows::of(&crate::kinds::inventory_count::read(
                    &doc
                )?),
                "the index reads a count as its reader does"
            );
            inner.cache.put(doc);
        }
        let in_place = derived_rows(&a)?;
        reindex_from_documents(&a)?;
        assert_eq!(in_place, derived_rows(&a)?);
        assert!(
            in_place.iter().any(|r| r.contains("sup-wang")),
            "the merged checks are in the index: {in_place:?}"
        );
        Ok(())
    }
}
