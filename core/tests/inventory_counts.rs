//! Inventory counts: lines, two counters at once, finishing, and R3's error rate.

use fieldsync_core::fixtures::{at, device, exchange, sample_store};
use fieldsync_core::{Error, ErrorRate, LocalStore, NewCountLine, NewInventoryCount, Result};

fn lines(n: usize, book: i64) -> Vec<NewCountLine> {
    (0..n)
        .map(|i| NewCountLine {
            sku: format!("sku-{i:03}"),
            name: format!("Brand {i}"),
            book,
        })
        .collect()
}

fn functional_store(db: &LocalStore, n: u32) -> Result<fieldsync_core::DocId> {
    db.create_store(fieldsync_core::NewStore {
        functional_terminal: true,
        ..sample_store("am-li", n)
    })
}

#[test]
fn two_people_counting_different_shelves_at_once_keep_both_sets_of_lines() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, _) = device(
        dir.path().join("b.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&a, 1)?;
    let count = a.create_inventory_count(NewInventoryCount {
        store_id: store,
        lines: lines(4, 10),
    })?;
    exchange(&a, &b)?;
    a.set_counted_many(&count, &[("sku-000".into(), 10), ("sku-001".into(), 9)])?;
    b.set_counted_many(&count, &[("sku-002".into(), 8), ("sku-003".into(), 10)])?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;
    let merged = a.inventory_count(&count)?;
    assert_eq!(merged, b.inventory_count(&count)?);
    let counted: Vec<Option<i64>> = merged
        .lines
        .iter()
        .map(|l| l.counted.as_ref().map(|c| *c.value()))
        .collect();
    assert_eq!(counted, vec![Some(10), Some(9), Some(8), Some(10)]);
    assert!(
        merged
            .lines
            .iter()
            .all(|l| !l.counted.as_ref().is_some_and(|c| c.is_conflict()))
    );
    Ok(())
}

#[test]
fn two_counted_quantities_for_one_sku_both_survive_with_who_and_when() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, a_clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, b_clock) = device(
        dir.path().join("b.db"),
        "mk-zhao",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&a, 1)?;
    let count = a.create_inventory_count(NewInventoryCount {
        store_id: store,
        lines: lines(1, 20),
    })?;
    exchange(&a, &b)?;
    a_clock.set(at("2026-11-23T09:10:00+08:00"));
    a.set_counted(&count, "sku-000", 18)?;
    b_clock.set(at("2026-11-23T09:12:00+08:00"));
    b.set_counted(&count, "sku-000", 19)?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;

    let line = a.inventory_count(&count)?.lines.remove(0);
    let counted = line.counted.expect("counted");
    assert!(counted.is_conflict());
    let mut all: Vec<(String, i64, i64)> = counted
        .all()
        .map(|w| (w.by.clone(), w.value, w.at.0))
        .collect();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("am-li".into(), 18, at("2026-11-23T09:10:00+08:00").0),
            ("mk-zhao".into(), 19, at("2026-11-23T09:12:00+08:00").0)
        ]
    );
    // Deterministic: both devices show the same current value.
    let on_b = b
        .inventory_count(&count)?
        .lines
        .remove(0)
        .counted
        .expect("counted");
    assert_eq!(on_b.value(), counted.value());
    Ok(())
}

#[test]
fn a_negative_count_is_refused_naming_the_sku_and_nothing_is_written() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&db, 1)?;
    let count = db.create_inventory_count(NewInventoryCount {
        store_id: store,
        lines: lines(2, 10),
    })?;
    let heads = db.heads(&count)?;
    let err = db
        .set_counted_many(&count, &[("sku-000".into(), 5), ("sku-001".into(), -1)])
        .expect_err("must refuse");
    assert_eq!(
        err.to_string(),
        "invalid `counted.sku-001`: count for `sku-001` must not be negative (got `-1`)"
    );
    assert_eq!(db.heads(&count)?, heads);
    assert!(
        db.inventory_count(&count)?
            .lines
            .iter()
            .all(|l| l.counted.is_none()),
        "the valid half was not written either"
    );
    let unknown = db
        .set_counted(&count, "sku-999", 1)
        .expect_err("unknown sku");
    assert!(
        matches!(unknown, Error::InvalidField { ref field, .. } if field == "sku"),
        "{unknown}"
    );
    Ok(())
}

#[test]
fn a_count_cannot_finish_with_an_uncounted_line_and_is_closed_once_finished() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&db, 1)?;
    let count = db.create_inventory_count(NewInventoryCount {
        store_id: store,
        lines: lines(2, 10),
    })?;
    db.set_counted(&count, "sku-000", 10)?;
    let err = db.finish_count(&count).expect_err("sku-001 is not counted");
    assert_eq!(
        err.to_string(),
        "invalid `lines`: `sku-001` has no counted quantity yet"
    );
    db.set_counted(&count, "sku-001", 9)?;
    db.finish_count(&count)?;
    assert!(db.inventory_count(&count)?.finished.is_some());
    assert!(
        db.set_counted(&count, "sku-001", 10).is_err(),
        "a finished count is closed"
    );
    Ok(())
}

#[test]
fn r3_reports_a_terminal_over_ten_percent_but_not_one_at_exactly_ten() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let exactly_ten = functional_store(&db, 1)?;
    let over_ten = functional_store(&db, 2)?;
    let zero_book = functional_store(&db, 3)?;
    let not_functional = db.create_store(sample_store("am-li", 4))?;
    for (store, counted) in [
        (&exactly_ten, [45, 45]),
        (&over_ten, [45, 44]),
        (&not_functional, [0, 0]),
    ] {
        let count = db.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: lines(2, 50),
        })?;
        db.set_counted_many(
            &count,
            &[
                ("sku-000".into(), counted[0]),
                ("sku-001".into(), counted[1]),
            ],
        )?;
        db.finish_count(&count)?;
    }
    let zero = db.create_inventory_count(NewInventoryCount {
        store_id: zero_book.clone(),
        lines: lines(1, 0),
    })?;
    db.set_counted(&zero, "sku-000", 3)?;
    db.finish_count(&zero)?;

    let findings = db.count_findings("am-li")?;
    let by_store: Vec<(&fieldsync_core::DocId, ErrorRate)> = findings
        .iter()
        .map(|f| (&f.store_id, f.error_rate))
        .collect();
    assert_eq!(by_store, {
        let mut expected = vec![
            (
                &over_ten,
                ErrorRate::Rate {
                    abs_diff: 11,
                    book_total: 100,
                },
            ),
            (&zero_book, ErrorRate::Undefined { abs_diff: 3 }),
        ];
        expected.sort_by_key(|(id, _)| db.store(id).map(|s| s.name).unwrap_or_default());
        expected
    });

    // A newer count that is back within the limit clears the finding: only the latest counts.
    clock.advance_minutes(60);
    let recount = db.create_inventory_count(NewInventoryCount {
        store_id: over_ten.clone(),
        lines: lines(2, 50),
    })?;
    db.set_counted_many(&recount, &[("sku-000".into(), 50), ("sku-001".into(), 48)])?;
    db.finish_count(&recount)?;
    assert!(
        db.count_findings("am-li")?
            .iter()
            .all(|f| f.store_id != over_ten)
    );
    Ok(())
}

#[test]
fn a_count_recorded_whole_reads_and_indexes_like_one_filled_and_finished_step_by_step() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let start = at("2026-11-23T09:00:00+08:00");
    let (stepwise, _) = device(dir.path().join("a.db"), "am-li", start)?;
    let (whole, _) = device(dir.path().join("b.db"), "am-li", start)?;
    let quantities: Vec<(String, i64)> = vec![("sku-000".into(), 45), ("sku-001".into(), 44)];
    let mut counts = Vec::new();
    for db in [&stepwise, &whole] {
        let store = functional_store(db, 1)?;
        let new = NewInventoryCount {
            store_id: store,
            lines: lines(2, 50),
        };
        let id = if std::ptr::eq(db, &stepwise) {
            let id = db.create_inventory_count(new)?;
            db.set_counted_many(&id, &quantities)?;
            db.finish_count(&id)?;
            id
        } else {
            db.record_inventory_count(new, &quantities, true)?
        };
        counts.push(db.inventory_count(&id)?);
    }
    let (a, b) = (&counts[0], &counts[1]);
    assert_eq!((&a.lines, &a.finished), (&b.lines, &b.finished));
    assert!(b.finished.is_some());
    assert_eq!(whole.history(&b.id)?.len(), 1, "one change, not three");
    // The index the rule queries read (R3) holds the same rates for either.
    let rates = |db: &LocalStore| -> Result<Vec<ErrorRate>> {
        Ok(db
            .count_findings("am-li")?
            .into_iter()
            .map(|f| f.error_rate)
            .collect())
    };
    assert_eq!(rates(&stepwise)?, rates(&whole)?);
    assert_eq!(
        rates(&whole)?,
        vec![ErrorRate::Rate {
            abs_diff: 11,
            book_total: 100
        }]
    );
    Ok(())
}

#[test]
fn a_count_recorded_whole_but_unfinished_stays_open_to_both_counters_and_shows_their_conflict()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let start = at("2026-11-23T09:00:00+08:00");
    let (a, _) = device(dir.path().join("a.db"), "am-li", start)?;
    let (b, _) = device(dir.path().join("b.db"), "mk-zhao", start)?;
    let store = functional_store(&a, 1)?;
    let count = a.record_inventory_count(
        NewInventoryCount {
            store_id: store,
            lines: lines(2, 10),
        },
        &[("sku-000".into(), 10)],
        false,
    )?;
    exchange(&a, &b)?;
    // Both recount sku-000 without having seen the other's recount.
    a.set_counted_many(&count, &[("sku-000".into(), 11), ("sku-001".into(), 7)])?;
    b.set_counted(&count, "sku-000", 9)?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;
    let merged = a.inventory_count(&count)?;
    assert_eq!(merged, b.inventory_count(&count)?);
    let sku0 = merged.lines[0].counted.as_ref().expect("counted");
    assert!(sku0.is_conflict());
    let mut values: Vec<(i64, String)> = sku0.all().map(|w| (w.value, w.by.clone())).collect();
    values.sort();
    assert_eq!(values, vec![(9, "mk-zhao".into()), (11, "am-li".into())]);
    assert_eq!(
        merged.lines[1].counted.as_ref().map(|c| *c.value()),
        Some(7)
    );
    a.finish_count(&count)?;
    Ok(())
}

#[test]
fn a_count_recorded_whole_with_bad_quantities_is_refused_naming_them_and_nothing_is_written()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&db, 1)?;
    let new = || NewInventoryCount {
        store_id: store.clone(),
        lines: lines(2, 10),
    };
    type Case<'a> = (&'a [(String, i64)], bool, &'a str);
    let cases: [Case; 4] = [
        (
            &[("sku-000".into(), 5), ("sku-001".into(), -1)],
            false,
            "invalid `counted.sku-001`: count for `sku-001` must not be negative (got `-1`)",
        ),
        (
            &[("sku-999".into(), 1)],
            false,
            "invalid `sku`: `sku-999` is not a line of this count",
        ),
        (
            &[("sku-000".into(), 1), ("sku-000".into(), 2)],
            false,
            "invalid `counted`: `sku-000` is counted twice",
        ),
        (
            &[("sku-000".into(), 1)],
            true,
            "invalid `lines`: `sku-001` has no counted quantity yet",
        ),
    ];
    for (counted, finish, expected) in cases {
        let err = db
            .record_inventory_count(new(), counted, finish)
            .expect_err(expected);
        assert_eq!(err.to_string(), expected);
    }
    assert!(
        db.document_ids(fieldsync_core::DocKind::InventoryCount)?
            .is_empty(),
        "no count was written"
    );
    Ok(())
}

#[test]
fn a_count_with_no_book_stock_reports_its_difference_and_an_undefined_rate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&db, 1)?;
    let count = db.create_inventory_count(NewInventoryCount {
        store_id: store.clone(),
        lines: lines(2, 0),
    })?;
    assert_eq!(
        db.inventory_count(&count)?.error_rate(),
        ErrorRate::NothingCounted,
        "nothing counted yet is its own state"
    );
    db.set_counted_many(&count, &[("sku-000".into(), 5), ("sku-001".into(), 35)])?;
    let rate = db.inventory_count(&count)?.error_rate();
    assert_eq!(rate, ErrorRate::Undefined { abs_diff: 40 });
    assert_eq!((rate.abs_diff(), rate.ratio()), (40, None));
    db.finish_count(&count)?;
    let findings = db.count_findings("am-li")?;
    assert_eq!(
        findings
            .iter()
            .map(|f| (&f.store_id, f.error_rate))
            .collect::<Vec<_>>(),
        vec![(&store, ErrorRate::Undefined { abs_diff: 40 })],
        "the index the rule reads keeps the real difference too"
    );
    Ok(())
}

#[test]
fn a_count_finished_with_nothing_counted_is_reported_as_such_not_as_undefined() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = functional_store(&db, 1)?;
    db.record_inventory_count(
        NewInventoryCount {
            store_id: store,
            lines: Vec::new(),
        },
        &[],
        true,
    )?;
    let findings = db.count_findings("am-li")?;
    assert_eq!(
        findings.iter().map(|f| f.error_rate).collect::<Vec<_>>(),
        vec![ErrorRate::NothingCounted]
    );
    Ok(())
}

#[test]
fn a_store_from_schema_4_reports_the_real_difference_of_its_old_zero_book_counts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let store = {
        let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
        let store = functional_store(&db, 1)?;
        db.record_inventory_count(
            NewInventoryCount {
                store_id: store.clone(),
                lines: lines(1, 0),
            },
            &[("sku-000".into(), 12)],
            true,
        )?;
        store
    };
    // Take the file back to schema 4 as the old build left it: no `counted_lines`, and
    // Σ|book − counted| written as 0 for a book total of 0.
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "DROP INDEX task_by_rating;
             ALTER TABLE task_index DROP COLUMN answers_rating_at;
             ALTER TABLE store_index DROP COLUMN rating_at;
             ALTER TABLE store_index DROP COLUMN assigned_at; DROP TABLE user_roles;
             DROP TABLE store_period;
             ALTER TABLE count_index DROP COLUMN counted_lines;
             DROP TABLE damaged; DROP TABLE photo_blocked; DROP TABLE photo_docs; DROP TABLE photo_files; DROP TABLE fetched;
             UPDATE count_index SET abs_diff_total = 0, book_total = 0;
             DROP INDEX documents_rows_unchecked; ALTER TABLE documents DROP COLUMN rows_unchecked;
             PRAGMA user_version = 4;",
        )?;
    }
    let (db, _) = device(&path, "am-li", at("2026-11-23T10:00:00+08:00"))?;
    let findings = db.count_findings("am-li")?;
    assert_eq!(
        findings
            .iter()
            .map(|f| (&f.store_id, f.error_rate))
            .collect::<Vec<_>>(),
        vec![(&store, ErrorRate::Undefined { abs_diff: 12 })]
    );
    Ok(())
}
