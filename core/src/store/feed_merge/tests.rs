//! Merging on worker threads stores what merging one by one stores, and a batch that
//! fails stores nothing of itself and loses no edit made meanwhile.

use super::*;
use crate::fixtures::{at, device, sample_store};
use crate::{
    CheckPoint, DisplayCheck, DisplayStandard, NewCountLine, NewInventoryCount, NewVisit,
    ProductOnDisplay, StandardCheck, Verdict, VisitKind,
};

const STORES: u32 = 6;

fn check(round: usize) -> DisplayCheck {
    DisplayCheck {
        standards: DisplayStandard::ALL
            .iter()
            .enumerate()
            .map(|(j, &standard)| StandardCheck {
                standard,
                verdict: if (round + j).is_multiple_of(3) {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                },
                note: String::new(),
                photos: Vec::new(),
            })
            .collect(),
        products: (0..4)
            .map(|i| ProductOnDisplay {
                sku: format!("sku-{i}"),
                name: format!("Brand {i}"),
                price_tag: (round + i).is_multiple_of(2),
            })
            .collect(),
        ..DisplayCheck::default()
    }
}

/// A phone's rounds of work: each round a visit, a display check and a count in every
/// store. Returns the phone.
fn source(dir: &std::path::Path) -> Result<LocalStore> {
    let (phone, clock) = device(
        dir.join("source.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let mut stores = Vec::new();
    for n in 1..=STORES {
        let store = phone.create_store(sample_store("am-li", n))?;
        phone.create_shelf_display(&store)?;
        stores.push(store);
    }
    for round in 0..3 {
        for store in &stores {
            clock.advance_minutes(30);
            let now = phone.now()?;
            let visit = phone.create_visit(NewVisit {
                store_id: store.clone(),
                kind: VisitKind::Routine,
                check_in: CheckPoint { at: now, gps: None },
                complaint_id: None,
            })?;
            phone.record_display_check(&LocalStore::shelf_display_id(store), &check(round))?;
            let count = phone.create_inventory_count(NewInventoryCount {
                store_id: store.clone(),
                lines: (0..5)
                    .map(|i| NewCountLine {
                        sku: format!("sku-{i}"),
                        name: format!("Brand {i}"),
                        book: 10 + i,
                    })
                    .collect(),
            })?;
            let counted: Vec<(String, i64)> = (0..5)
                .map(|i| (format!("sku-{i}"), 9 + i + round as i64))
                .collect();
            phone.set_counted_many(&count, &counted)?;
            phone.finish_count(&count)?;
            phone.check_out_visit(&visit, CheckPoint { at: now, gps: None })?;
        }
    }
    Ok(phone)
}

/// Every document of `phone` with the changes made since `since` (per document id;
/// documents with nothing new are left out).
fn feed(
    phone: &LocalStore,
    since: &HashMap<DocId, Vec<String>>,
) -> Result<Vec<(DocId, Vec<Vec<u8>>)>> {
    let mut out = Vec::new();
    for kind in DocKind::ALL {
        for id in phone.document_ids(kind)? {
            let heads = since.get(&id).cloned().unwrap_or_default();
            let changes = phone.export_changes(&id, &heads)?;
            if !changes.is_empty() {
                out.push((id, changes));
            }
        }
    }
    Ok(out)
}

fn heads_of(phone: &LocalStore) -> Result<HashMap<DocId, Vec<String>>> {
    let mut out = HashMap::new();
    for kind in DocKind::ALL {
        for id in phone.document_ids(kind)? {
            out.insert(id.clone(), phone.heads(&id)?);
        }
    }
    Ok(out)
}

/// Every row a merge writes, but the time it was written, in a fixed order.
fn rows(phone: &LocalStore) -> Result<Vec<String>> {
    crate::store::index::tests::table_rows(
        phone,
        &[
            "SELECT id, kind, store_id, hex(snapshot), chunk_count, chunk_bytes, hex(heads) FROM documents ORDER BY id",
            "SELECT doc_id, seq, hex(bytes) FROM chunks ORDER BY doc_id, seq",
            "SELECT doc_id, local_edits, confirmed_edits, hex(server_heads) FROM outbox ORDER BY doc_id",
            "SELECT * FROM store_index ORDER BY id",
            "SELECT * FROM visit_index ORDER BY id",
            "SELECT * FROM display_index ORDER BY id",
            "SELECT * FROM display_check_index ORDER BY display_id, checker",
            "SELECT * FROM count_index ORDER BY id",
        ],
    )
}

fn new_phone(dir: &std::path::Path, name: &str) -> Result<LocalStore> {
    Ok(device(dir.join(name), "am-li", at("2026-11-30T09:00:00+08:00"))?.0)
}

#[test]
fn merging_many_documents_on_worker_threads_stores_what_merging_them_one_by_one_stores()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let first = feed(&source, &HashMap::new())?;
    assert!(first.len() >= PARALLEL_FROM, "{} documents", first.len());
    let one_by_one = new_phone(dir.path(), "one-by-one.db")?;
    for (id, changes) in &first {
        one_by_one.merge_from_server(id, changes)?;
    }
    let batched = new_phone(dir.path(), "batched.db")?;
    let merged = batched
        .lock()?
        .all_or_nothing(|inner| inner.merge_many(first.clone(), true, 3, &|| false))?
        .0;
    assert_eq!(merged.count, first.len());
    assert_eq!(rows(&batched)?, rows(&one_by_one)?);

    // A second feed grows documents both phones have (the displays, checked again)
    // and brings new ones, as the later responses of a download do.
    let before = heads_of(&source)?;
    let store = source.document_ids(DocKind::Store)?;
    for (round, store) in store.iter().enumerate() {
        source.record_display_check(&LocalStore::shelf_display_id(store), &check(round + 7))?;
        let count = source.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: vec![NewCountLine {
                sku: "sku-9".into(),
                name: "Brand 9".into(),
                book: 3,
            }],
        })?;
        source.set_counted(&count, "sku-9", 2)?;
    }
    let mut second = feed(&source, &before)?;
    // A document sent again whole, and one whose changes are all known, change nothing.
    second.extend(first.iter().take(PARALLEL_FROM).cloned());
    for (id, changes) in &second {
        one_by_one.merge_from_server(id, changes)?;
    }
    let (_, rest) = batched
        .lock()?
        .all_or_nothing(|inner| inner.merge_many(second.clone(), true, 2, &|| false))?;
    assert!(rest.is_empty());
    assert_eq!(rows(&batched)?, rows(&one_by_one)?);
    // Reading every document back gives the source's heads.
    let reopened = heads_of(&batched)?;
    assert_eq!(reopened, heads_of(&source)?);
    Ok(())
}

#[test]
fn a_damaged_change_in_a_batch_is_refused_naming_its_document_and_nothing_of_the_batch_is_stored()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let mut docs = feed(&source, &HashMap::new())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    let victim = docs.len() - 3;
    let damaged = docs[victim].0.clone();
    if let Some(bytes) = docs[victim].1.first_mut() {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
    }
    let err = phone
        .merge_many_from_server(docs)
        .expect_err("a damaged change is refused");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "change 0 of `{damaged}` is not an automerge change"
        )),
        "{message}"
    );
    assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
    Ok(())
}

#[test]
fn a_change_with_one_letter_altered_on_the_way_parses_but_is_refused_by_its_checksum() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let mut docs = feed(&source, &HashMap::new())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    // A visit's check-out with its commit message's `check out` made `Check out`: the
    // change still parses (Automerge does not compare its checksum), as another change
    // under another hash.
    let (victim, change, at) = docs
        .iter()
        .enumerate()
        .find_map(|(d, (_, changes))| {
            changes.iter().enumerate().find_map(|(c, bytes)| {
                (bytes[8] == crate::doc::CHANGE)
                    .then(|| bytes.windows(9).position(|w| w == b"check out"))
                    .flatten()
                    .map(|at| (d, c, at))
            })
        })
        .expect("an uncompressed check-out");
    let damaged = docs[victim].0.clone();
    docs[victim].1[change][at] = b'C';
    assert!(automerge::Change::try_from(docs[victim].1[change].as_slice()).is_ok());
    let err = phone
        .merge_many_from_server(docs)
        .expect_err("an altered change is refused");
    assert!(
        err.to_string().contains(&format!(
            "change {change} of `{damaged}` is not an automerge change: its checksum does not hold"
        )),
        "{err}"
    );
    assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
    Ok(())
}

#[test]
fn a_batch_holding_a_change_whose_dependency_is_missing_is_refused_whole() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let mut docs = feed(&source, &HashMap::new())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    // The last display without its first change (its creation, which the others
    // build on).
    let display = docs
        .iter()
        .rposition(|(id, _)| source.kind_of(id).ok() == Some(DocKind::ShelfDisplay))
        .expect("a display");
    let id = docs[display].0.clone();
    docs[display].1.remove(0);
    let err = phone
        .merge_many_from_server(docs)
        .expect_err("a missing dependency is refused");
    assert!(
        err.to_string().contains(&format!("of `{id}`")),
        "the error names the document: {err}"
    );
    assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
    Ok(())
}

#[test]
fn changes_of_another_document_in_a_batch_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let mut docs = feed(&source, &HashMap::new())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    let last = docs.len() - 1;
    docs[last].1 = docs[0].1.clone();
    let err = phone
        .merge_many_from_server(docs)
        .expect_err("another document's changes are refused");
    assert!(err.to_string().contains("belong to"), "{err}");
    assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
    Ok(())
}

#[test]
fn an_edit_made_while_a_failing_response_is_stored_is_kept() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let mut docs = feed(&source, &HashMap::new())?;
    // Enough documents that storing them takes a while, the last one damaged.
    let before = heads_of(&source)?;
    for round in 0..4 {
        for store in source.document_ids(DocKind::Store)? {
            source.record_display_check(&LocalStore::shelf_display_id(&store), &check(round))?;
        }
    }
    docs.extend(feed(&source, &before)?);
    if let Some(bytes) = docs.last_mut().and_then(|(_, c)| c.last_mut()) {
        bytes.truncate(bytes.len() / 2);
    }
    let path = dir.path().join("phone.db");
    let phone = std::sync::Arc::new(new_phone(dir.path(), "phone.db")?);
    let store = phone.create_store(sample_store("am-li", 99))?;
    let visit = phone.create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: phone.now()?,
            gps: None,
        },
        complaint_id: None,
    })?;
    let storing = {
        let phone = phone.clone();
        std::thread::spawn(move || {
            phone.apply_sync_response(&[], docs, Vec::new(), &[], None, "41")
        })
    };
    // The edit lands before, during or after storing the response: it must be kept
    // whichever it is (during, it waits for the response to be stored or refused).
    std::thread::sleep(std::time::Duration::from_millis(20));
    phone.append_visit_notes(&visit, "Owner asked for slim packs.")?;
    let stored = storing.join().expect("the storing thread does not panic");
    assert!(stored.is_err(), "the damaged response is refused");
    drop(phone);
    let reopened = device(&path, "am-li", at("2026-11-30T09:00:00+08:00"))?.0;
    assert!(
        reopened.visit(&visit)?.notes.contains("slim packs"),
        "the edit is on disk"
    );
    assert_eq!(reopened.sync_cursor()?, None, "the cursor did not move");
    Ok(())
}

#[test]
fn a_merge_told_to_stop_writes_one_document_and_hands_back_the_rest_in_order_prepared_or_not()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let docs = feed(&source, &HashMap::new())?;
    assert!(docs.len() > WINDOW, "more documents than the window");
    let whole = new_phone(dir.path(), "whole.db")?;
    whole.merge_many_from_server(docs.clone())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    let mut inner = phone.lock()?;
    let (merged, rest) =
        inner.all_or_nothing(|inner| inner.merge_many(docs.clone(), true, 3, &|| true))?;
    assert_eq!(
        merged.count, 1,
        "stopped after the document being written, the prepared ones handed back"
    );
    assert_eq!(rest.as_slice(), &docs[merged.count..], "the rest, in order");
    let (later, none) = inner.all_or_nothing(|inner| inner.merge_many(rest, true, 3, &|| false))?;
    assert!(none.is_empty());
    assert_eq!(merged.count + later.count, docs.len());
    drop(inner);
    assert_eq!(rows(&phone)?, rows(&whole)?, "as if merged in one go");
    Ok(())
}

#[test]
fn an_edit_made_while_a_long_feed_page_is_stored_does_not_wait_for_the_whole_page() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // A long page: another territory's stores, hundreds of them, as a first sync gets them.
    let (office, _) = device(
        dir.path().join("office.db"),
        "admin",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let mut docs = Vec::new();
    for n in 0..400 {
        let id = office.create_store(sample_store("am-other", 1_000 + n))?;
        docs.push((id.clone(), office.export_changes(&id, &[])?));
    }
    let phone = std::sync::Arc::new(new_phone(dir.path(), "phone.db")?);
    let store = phone.create_store(sample_store("am-li", 99))?;
    let visit = phone.create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: phone.now()?,
            gps: None,
        },
        complaint_id: None,
    })?;
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let storing = {
        let phone = phone.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let _ = started_tx.send(started);
            let stored = phone.store_feed_page(docs, "41");
            (stored, std::time::Instant::now())
        })
    };
    let started = started_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| Error::invalid("test", e.to_string()))?;
    // Let the page's merge take the lock first.
    std::thread::sleep(std::time::Duration::from_millis(30));
    phone.append_visit_notes(&visit, "Owner asked for slim packs.")?;
    let edited = std::time::Instant::now();
    let (stored, page_done) = storing.join().expect("the storing thread does not panic");
    assert_eq!(stored?, 400);
    assert!(
        page_done - started > std::time::Duration::from_millis(100),
        "the page was long enough to be interrupted: {:?}",
        page_done - started
    );
    assert!(
        edited < page_done,
        "the edit waited for the whole page ({:?} after it)",
        edited - page_done
    );
    assert!(phone.visit(&visit)?.notes.contains("slim packs"));
    assert_eq!(phone.sync_cursor()?.as_deref(), Some("41"));
    Ok(())
}

#[test]
fn a_document_listed_twice_close_together_in_a_batch_is_merged_on_what_its_first_entry_stored()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let first = feed(&source, &HashMap::new())?;
    let before = heads_of(&source)?;
    for store in source.document_ids(DocKind::Store)? {
        source.record_display_check(&LocalStore::shelf_display_id(&store), &check(7))?;
    }
    let again = feed(&source, &before)?;
    // Every display's first entry, then at once its second: both within the window.
    let is_display = |id: &DocId| source.kind_of(id).ok() == Some(DocKind::ShelfDisplay);
    let mut page: Vec<_> = first
        .iter()
        .filter(|(id, _)| !is_display(id))
        .cloned()
        .collect();
    page.extend(first.iter().filter(|(id, _)| is_display(id)).cloned());
    page.extend(again);
    assert!(page.len() >= PARALLEL_FROM, "merged on worker threads");
    let one_by_one = new_phone(dir.path(), "one.db")?;
    for (id, changes) in &page {
        one_by_one.merge_from_server(id, changes)?;
    }
    let batched = new_phone(dir.path(), "batched.db")?;
    assert_eq!(batched.merge_many_from_server(page.clone())?, page.len());
    assert_eq!(rows(&batched)?, rows(&one_by_one)?);
    Ok(())
}

/// The merge commits without waiting for the disk (what it writes is on the server), and
/// hands the lock back with the store's own setting: an edit after it, after a page that
/// failed too, is committed to disk before it returns. Shown to guard the reset: without
/// it, the setting read after the merge was 1 (NORMAL).
#[test]
fn after_a_merge_even_a_failed_one_the_stores_edits_are_synchronous_again() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let source = source(dir.path())?;
    let docs = feed(&source, &HashMap::new())?;
    let phone = new_phone(dir.path(), "phone.db")?;
    let synchronous = |phone: &LocalStore| -> Result<i64> {
        Ok(phone
            .lock()?
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?)
    };
    assert_eq!(synchronous(&phone)?, 2, "FULL when opened");
    let mut damaged = docs.clone();
    if let Some(bytes) = damaged.last_mut().and_then(|(_, c)| c.last_mut()) {
        bytes.truncate(bytes.len() / 2);
    }
    assert!(
        phone
            .apply_sync_response(&[], damaged, Vec::new(), &[], None, "40")
            .is_err()
    );
    assert_eq!(synchronous(&phone)?, 2, "FULL after a failed merge");
    phone.store_feed_page(docs, "41")?;
    assert_eq!(synchronous(&phone)?, 2, "FULL after a merge");
    Ok(())
}
