//! The local store itself: durability bookkeeping, laziness, locking, compaction, merging.

use fieldsync_core::fixtures::{at, device, exchange, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayStandard, DocKind, Error, NewVisit, Result, StoreContact, Verdict, VisitKind,
};

fn new_visit(store: &fieldsync_core::DocId) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    }
}

#[test]
fn every_local_edit_waits_in_the_outbox_but_merged_changes_do_not() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, _) = device(
        dir.path().join("b.db"),
        "sup-wang",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(sample_store("am-li", 1))?;
    let visit = a.create_visit(new_visit(&store))?;
    a.set_visit_notes(&visit, "first")?;
    a.set_visit_notes(&visit, "first, second")?;
    let pending = a.pending_documents()?;
    let edits: Vec<(DocKind, i64)> = pending.iter().map(|p| (p.kind, p.local_edits)).collect();
    assert_eq!(edits, vec![(DocKind::Store, 1), (DocKind::Visit, 3)]);
    exchange(&a, &b)?;
    assert!(
        b.pending_documents()?.is_empty(),
        "what b merged is not b's to upload"
    );
    b.comment_on_visit(&visit, "good notes")?;
    assert_eq!(
        b.pending_documents()?
            .iter()
            .map(|p| &p.id)
            .collect::<Vec<_>>(),
        vec![&visit]
    );
    Ok(())
}

#[test]
fn a_second_opener_of_the_same_file_is_refused_while_the_first_holds_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (first, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let actor = first.actor_id()?;
    let err = device(&path, "am-li", at("2026-11-23T09:00:00+08:00")).expect_err("must be locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    drop(first);
    let (again, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    assert_ne!(
        again.actor_id()?,
        actor,
        "every opening writes as a new actor, so a restored backup never reuses one"
    );
    Ok(())
}

#[test]
fn opening_a_store_reads_no_document_so_one_damaged_document_spoils_only_itself() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit = db.create_visit(new_visit(&store))?;
    drop(db);
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute(
            "UPDATE chunks SET bytes = x'00010203' WHERE doc_id = ?1",
            [visit.as_str()],
        )?;
    }
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    assert_eq!(
        db.stores_due_visit(
            "am-li",
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("date")
        )?
        .len(),
        1
    );
    assert_eq!(db.store(&store)?.name, "Store 1");
    let err = db.visit(&visit).expect_err("damaged");
    assert!(
        matches!(err, Error::Corrupt { ref id, .. } if id == visit.as_str()),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_damaged_later_chunk_spoils_its_document_instead_of_being_skipped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, clock) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    for standard in DisplayStandard::ALL {
        clock.advance_minutes(1);
        db.mark_display_standard(&display, standard, Verdict::Pass, "")?;
    }
    drop(db);
    {
        let conn = rusqlite::Connection::open(&path)?;
        let changed = conn.execute(
            "UPDATE chunks SET bytes = x'00010203' WHERE doc_id = ?1 AND seq = 5",
            [display.as_str()],
        )?;
        assert_eq!(changed, 1);
    }
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let err = db.shelf_display(&display).expect_err("damaged");
    assert!(
        matches!(err, Error::Corrupt { ref id, .. } if id == display.as_str()),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_document_of_many_chunks_reads_the_same_after_reopening() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, clock) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    for round in 0..3 {
        for (i, standard) in DisplayStandard::ALL.into_iter().enumerate() {
            clock.advance_minutes(1);
            let verdict = if (i + round) % 3 == 0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            db.mark_display_standard(&display, standard, verdict, "")?;
        }
        if round == 1 {
            db.compact(1, 10)?;
        }
    }
    let before = (
        db.shelf_display(&display)?,
        db.history(&display)?,
        db.heads(&display)?,
    );
    drop(db);
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let after = (
        db.shelf_display(&display)?,
        db.history(&display)?,
        db.heads(&display)?,
    );
    assert_eq!(before, after);
    Ok(())
}

#[test]
fn compaction_folds_chunks_into_a_snapshot_and_keeps_content_and_history() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, clock) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let display = db.create_shelf_display(&store)?;
    for (i, standard) in DisplayStandard::ALL.into_iter().enumerate() {
        clock.advance_minutes(1);
        db.mark_display_standard(
            &display,
            standard,
            if i % 2 == 0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            "",
        )?;
    }
    let before = (
        db.shelf_display(&display)?,
        db.history(&display)?,
        db.heads(&display)?,
    );
    let (bytes_before, _) = db.stored_bytes(DocKind::ShelfDisplay)?;
    assert_eq!(
        db.compact(4, 10)?,
        1,
        "only the display has 4 chunks or more"
    );
    assert_eq!(db.compact(4, 10)?, 0, "nothing left to compact");
    let (bytes_after, _) = db.stored_bytes(DocKind::ShelfDisplay)?;
    assert!(bytes_after < bytes_before, "{bytes_after} < {bytes_before}");
    drop(db);
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    assert_eq!(
        (
            db.shelf_display(&display)?,
            db.history(&display)?,
            db.heads(&display)?
        ),
        before
    );
    assert_eq!(db.integrity_check()?, "ok");
    Ok(())
}

#[test]
fn garbage_offered_as_changes_is_refused_and_the_document_is_unchanged() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(sample_store("am-li", 1))?;
    let heads = a.heads(&store)?;
    let err = a
        .merge_changes(&store, &[b"not automerge at all".to_vec()])
        .expect_err("garbage");
    assert!(
        matches!(err, Error::InvalidField { ref field, .. } if field == "changes"),
        "{err}"
    );
    assert_eq!(a.heads(&store)?, heads);
    assert_eq!(a.store(&store)?.name, "Store 1");

    // Valid changes that build on what the device has are accepted.
    let (b, _) = device(
        dir.path().join("b.db"),
        "am-li-tablet",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    exchange(&a, &b)?;
    b.update_store_contact(
        &store,
        StoreContact {
            owner: Some("Mrs Zhou".into()),
            ..Default::default()
        },
    )?;
    a.merge_changes(&store, &b.export_changes(&store, &heads)?)?;
    assert_eq!(a.store(&store)?.owner, "Mrs Zhou");

    let other = a.create_store(sample_store("am-li", 2))?;
    let stranger = fieldsync_core::DocId::new();
    let bytes = a.export_changes(&other, &[])?;
    let err = a
        .merge_changes(&stranger, &bytes)
        .expect_err("bytes of another document");
    assert!(err.to_string().contains("belong to document"), "{err}");
    assert!(a.kind_of(&stranger).is_err());

    // A change whose predecessor the device lacks is refused rather than half-merged.
    b.update_store_contact(
        &store,
        StoreContact {
            owner: Some("Mr Zhou".into()),
            ..Default::default()
        },
    )?;
    let b_heads = b.heads(&store)?;
    b.update_store_contact(
        &store,
        StoreContact {
            owner: Some("Mr and Mrs Zhou".into()),
            ..Default::default()
        },
    )?;
    let only_the_last = b.export_changes(&store, &b_heads)?;
    let err = a.merge_changes(&store, &only_the_last).expect_err("a gap");
    assert!(
        err.to_string().contains("which this device does not have"),
        "{err}"
    );
    assert_eq!(a.store(&store)?.owner, "Mrs Zhou");
    Ok(())
}

#[test]
fn reading_a_document_as_the_wrong_kind_names_both_kinds() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(sample_store("am-li", 1))?;
    let err = a.visit(&store).expect_err("a store is not a visit");
    assert_eq!(
        err.to_string(),
        format!("document `{store}` is a store, not a visit")
    );
    Ok(())
}

#[test]
fn concurrent_contact_edits_show_both_phone_numbers_and_a_reassignment_moves_the_store()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (office, _) = device(
        dir.path().join("of.db"),
        "admin-chen",
        at("2026-11-23T09:30:00+08:00"),
    )?;
    let store = office.create_store(sample_store("am-li", 1))?;
    exchange(&office, &am)?;
    am.update_store_contact(
        &store,
        StoreContact {
            phone: Some("13900000001".into()),
            ..Default::default()
        },
    )?;
    office.update_store_contact(
        &store,
        StoreContact {
            phone: Some("13900000002".into()),
            ..Default::default()
        },
    )?;
    office.reassign_store(&store, "am-wu")?;
    exchange(&office, &am)?;
    exchange(&am, &office)?;
    let phones = am.store_field_versions(&store, "phone")?.expect("set");
    assert!(phones.is_conflict());
    let mut values: Vec<(String, String)> = phones
        .all()
        .map(|w| (w.by.clone(), w.value.clone()))
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![
            ("admin-chen".into(), "13900000002".into()),
            ("am-li".into(), "13900000001".into())
        ]
    );
    assert_eq!(am.store(&store)?, office.store(&store)?);
    assert_eq!(am.store(&store)?.territory, "am-wu");
    let week = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    assert!(am.stores_due_visit("am-li", week)?.is_empty());
    assert_eq!(am.stores_due_visit("am-wu", week)?.len(), 1);
    let bad = am.update_store_contact(
        &store,
        StoreContact {
            phone: Some("call me".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        bad.expect_err("bad phone").to_string(),
        "invalid `phone`: `call me` is not a phone number"
    );
    Ok(())
}

#[test]
fn an_edit_after_reopening_stores_only_the_new_change_not_the_whole_history() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let chunk_sizes = |path: &std::path::Path| -> Result<Vec<i64>> {
        let conn = rusqlite::Connection::open(path)?;
        // Chunk 1 of each document is its creation; the edits follow.
        let mut stmt =
            conn.prepare("SELECT LENGTH(bytes) FROM chunks WHERE seq > 1 ORDER BY doc_id, seq")?;
        let sizes = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(sizes)
    };
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit = db.create_visit(new_visit(&store))?;
    drop(db);
    for round in 0..4 {
        let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
        db.set_visit_notes(&visit, &format!("round {round}"))?;
    }
    let sizes = chunk_sizes(&path)?;
    assert_eq!(sizes.len(), 4);
    // One notes edit is about 150 bytes; the visit's creation alone is over 1 KB, so a chunk
    // that repeated the history (Automerge's save point starts empty after a load) fails here.
    assert!(
        sizes.iter().all(|&n| n < 400),
        "each chunk holds one small change: {sizes:?}"
    );
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    assert_eq!(db.visit(&visit)?.notes, "round 3");
    Ok(())
}

#[test]
fn edits_in_one_transaction_are_all_kept_or_all_forgotten() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, clock) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let before = db.pending_documents()?;
    // A visit saved whole at check-out: the device's clock reads the check-out time.
    clock.set(at("2026-11-23T09:30:00+08:00"));

    let err = db
        .in_one_transaction(|db| {
            let visit = db.create_visit(new_visit(&store))?;
            db.set_visit_notes(&visit, "half a visit")?;
            db.update_store_contact(
                &store,
                StoreContact {
                    phone: Some("not a phone".into()),
                    ..Default::default()
                },
            )?;
            Ok(visit)
        })
        .expect_err("the bad phone number fails the whole transaction");
    assert!(err.to_string().contains("`phone`"), "{err}");
    assert!(
        db.document_ids(DocKind::Visit)?.is_empty(),
        "the visit made inside is gone"
    );
    assert_eq!(db.pending_documents()?, before);

    let visit = db.in_one_transaction(|db| {
        let visit = db.create_visit(new_visit(&store))?;
        db.set_visit_notes(&visit, "whole visit")?;
        db.check_out_visit(
            &visit,
            CheckPoint {
                at: at("2026-11-23T09:30:00+08:00"),
                gps: None,
            },
        )?;
        Ok(visit)
    })?;
    drop(db);
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let v = db.visit(&visit)?;
    assert_eq!(
        (v.notes.as_str(), v.check_out.is_some()),
        ("whole visit", true)
    );
    assert_eq!(db.integrity_check()?, "ok");
    Ok(())
}

#[test]
fn an_edit_from_another_thread_waits_for_a_transaction_and_survives_its_rollback() -> Result<()> {
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let (inside_tx, inside) = mpsc::channel::<()>();
    let (saved_tx, saved) = mpsc::channel::<fieldsync_core::DocId>();
    std::thread::scope(|scope| -> Result<()> {
        let (db, store) = (&db, &store);
        let other = scope.spawn(move || {
            // Waits until the transaction below is open, then edits.
            inside.recv_timeout(Duration::from_secs(30)).ok()?;
            let visit = db.create_visit(new_visit(store)).ok()?;
            saved_tx.send(visit.clone()).ok()?;
            Some(visit)
        });
        let err = db
            .in_one_transaction(|db| {
                db.create_visit(new_visit(store))?;
                let _ = inside_tx.send(());
                // Had the other thread's edit gone into this transaction, it would have
                // returned by now; it must still be waiting.
                let early = saved.recv_timeout(Duration::from_millis(300)).is_ok();
                Err::<(), _>(Error::invalid(
                    "test",
                    if early {
                        "the other edit got in"
                    } else {
                        "roll back"
                    },
                ))
            })
            .expect_err("the transaction fails");
        assert_eq!(err.to_string(), "invalid `test`: roll back");
        let visit = other
            .join()
            .expect("no panic")
            .expect("the other edit was saved");
        assert_eq!(
            db.document_ids(DocKind::Visit)?,
            vec![visit],
            "and it is still there"
        );
        Ok(())
    })?;
    Ok(())
}

#[test]
fn changes_of_one_document_offered_under_another_existing_id_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, _) = device(
        dir.path().join("b.db"),
        "am-li-tablet",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(sample_store("am-li", 1))?;
    fieldsync_core::fixtures::exchange(&a, &b)?;
    let mine = a.create_visit(new_visit(&store))?;
    let theirs = b.create_visit(new_visit(&store))?;
    let heads = a.heads(&mine)?;
    let err = a
        .merge_changes(&mine, &b.export_changes(&theirs, &[])?)
        .expect_err("another visit");
    assert!(
        err.to_string().contains("belong to another document"),
        "{err}"
    );
    assert_eq!(a.heads(&mine)?, heads);
    assert_eq!(a.visit(&mine)?.id, mine);
    Ok(())
}

#[test]
fn a_store_written_by_schema_1_opens_migrated_with_its_documents() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit = db.create_visit(new_visit(&store))?;
    drop(db);
    {
        // Turn the file back into what schema 1 wrote.
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "DROP INDEX outbox_pending;
             ALTER TABLE outbox DROP COLUMN first_chunk; ALTER TABLE outbox DROP COLUMN uploading;
             DROP TABLE leaving; DROP TABLE damaged; DROP TABLE photo_blocked; DROP TABLE photo_docs; DROP TABLE photo_files; DROP TABLE fetched;
             DROP INDEX task_by_rating; ALTER TABLE task_index DROP COLUMN answers_rating_at;
             ALTER TABLE store_index DROP COLUMN rating_at; ALTER TABLE store_index DROP COLUMN assigned_at;
             DROP TABLE user_roles; DROP TABLE store_period;
             DROP INDEX documents_rows_unchecked; ALTER TABLE documents DROP COLUMN rows_unchecked;
             ALTER TABLE count_index DROP COLUMN counted_lines; PRAGMA user_version = 1;",
        )?;
    }
    let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    assert_eq!(db.visit(&visit)?.store_id, store);
    assert_eq!(db.receipt(&visit)?, fieldsync_core::Receipt::SavedOnPhone);
    assert_eq!(db.pending_documents()?.len(), 2);
    // Edits from before schema 3 do not know their chunks: the push loads the documents.
    let outgoing = db.outbox_batch(10)?;
    assert_eq!(outgoing.len(), 2);
    assert!(
        outgoing.iter().all(|d| d.changes.len() == 1),
        "{outgoing:?}"
    );
    drop(db);
    let version: i64 =
        rusqlite::Connection::open(&path)?.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, fieldsync_core::STORE_SCHEMA_VERSION);
    Ok(())
}
