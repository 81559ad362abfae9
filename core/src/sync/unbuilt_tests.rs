//! A document stored from the rows the server sent (ADR 0035; the store's side, with the
//! records a server's judge derives) reads and indexes as one
//! built from its changes; rows that do not decode, or changes that fail their checks,
//! leave the document to be built as it would be without them.

use crate::error::{Error, Result};
use crate::fixtures::{at, device, routine_visit, sample_count, sample_store};
use crate::ids::DocId;
use crate::store::LocalStore;
use crate::store::index::tests::table_rows;
use crate::sync::replica::{IncomingChange, Pusher, Replica};

/// A document as a response carries it: its id and changes.
type Document = (DocId, Vec<Vec<u8>>);

/// The index tables and what the store records per document, in a fixed order.
const TABLES: [&str; 6] = [
    "SELECT id, kind, store_id, hex(heads) FROM documents ORDER BY id",
    "SELECT * FROM visit_index ORDER BY id",
    "SELECT * FROM count_index ORDER BY id",
    "SELECT * FROM display_index ORDER BY id",
    "SELECT * FROM conflict_index ORDER BY doc_id, field",
    "SELECT doc_id, hex(server_heads) FROM outbox ORDER BY doc_id",
];

/// What a server would send of `id` with `changes`: the record its judge derived when
/// `user` pushed them.
fn record(id: &DocId, changes: &[Vec<u8>], user: &str) -> Result<Vec<u8>> {
    let incoming = changes
        .iter()
        .map(|c| IncomingChange::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let mut replica = Replica::empty(id);
    let pusher = Pusher {
        user,
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    if let Err(v) = replica.apply(&incoming, &pusher)? {
        return Err(Error::invalid("push", v.message));
    }
    replica
        .feed_index()
        .ok_or_else(|| Error::invalid("record", "the judge derived none"))
}

/// A phone's store with a display, a visit and a count in conflict (two counts of one
/// line merged); returns the documents as (id, changes), the store first.
fn source(dir: &std::path::Path) -> Result<Vec<Document>> {
    let (phone, clock) = device(dir.join("a.db"), "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let (tablet, _) = device(dir.join("b.db"), "am-li", at("2026-11-23T09:05:00+08:00"))?;
    let store = phone.create_store(sample_store("am-li", 1))?;
    let display = phone.create_shelf_display(&store)?;
    let visit = phone.create_visit(routine_visit(&store, phone.now()?))?;
    let count = phone.create_inventory_count(sample_count(&store, 4))?;
    crate::fixtures::exchange(&phone, &tablet)?;
    clock.advance_minutes(10);
    phone.set_counted(&count, "sku-001", 3)?;
    tablet.set_counted(&count, "sku-001", 5)?;
    crate::fixtures::exchange(&tablet, &phone)?;
    let docs = [store, display, visit, count]
        .into_iter()
        .map(|id| {
            // As the server stores and sends them: uncompressed.
            let changes = phone
                .export_changes(&id, &[])?
                .iter()
                .map(|c| IncomingChange::parse(c).map(|c| c.bytes()))
                .collect::<Result<Vec<_>>>()?;
            Ok((id, changes))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(docs)
}

fn stored_unbuilt(phone: &LocalStore) -> Result<Vec<String>> {
    table_rows(
        phone,
        &["SELECT kind FROM documents WHERE snapshot IS NULL ORDER BY kind"],
    )
}

#[test]
fn a_document_stored_from_the_servers_rows_reads_and_indexes_as_one_built_from_its_changes()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let index = docs
        .iter()
        .skip(1)
        .map(|(id, changes)| Ok((id.clone(), record(id, changes, "am-li")?)))
        .collect::<Result<Vec<_>>>()?;
    let (built, _) = device(
        dir.path().join("built.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    built.apply_sync_response(&[], docs.clone(), Vec::new(), &[], None, "9")?;
    let (fast, _) = device(
        dir.path().join("fast.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    fast.apply_sync_response(&[], docs.clone(), index, &[], None, "9")?;

    assert_eq!(
        stored_unbuilt(&fast)?,
        ["inventory_count", "shelf_display", "visit"],
        "the store came without rows and was built; the others were stored as they came"
    );
    assert!(stored_unbuilt(&built)?.is_empty());
    let rows = table_rows(&fast, &TABLES)?;
    assert!(
        rows.iter().any(|r| r.contains("sku-001")),
        "the counted line in conflict is indexed: {rows:#?}"
    );
    assert_eq!(rows, table_rows(&built, &TABLES)?);
    let (visit, count) = (&docs[2].0, &docs[3].0);
    assert_eq!(fast.visit(visit)?, built.visit(visit)?);
    assert_eq!(fast.inventory_count(count)?, built.inventory_count(count)?);
    assert_eq!(
        fast.shelf_display(&docs[1].0)?,
        built.shelf_display(&docs[1].0)?
    );

    // Edited on the phone that never built it, the count indexes as the builder's does.
    fast.set_counted(count, "sku-002", 1)?;
    built.set_counted(count, "sku-002", 1)?;
    let counts =
        ["SELECT store_id, lines, counted_lines, book_total, abs_diff_total FROM count_index"];
    assert_eq!(table_rows(&fast, &counts)?, table_rows(&built, &counts)?);
    Ok(())
}

#[test]
fn rows_that_do_not_decode_or_changes_that_fail_their_checks_leave_the_document_to_be_built()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let (visit, changes) = docs[2].clone();
    let good = record(&visit, &changes, "am-li")?;
    let opened = |name: &str| {
        device(
            dir.path().join(name),
            "am-li",
            at("2026-11-23T10:00:00+08:00"),
        )
        .map(|(p, _)| p)
    };

    // Bytes that are no record, a record of another version: built.
    let mut other_version = good.clone();
    let at_version = other_version
        .windows(2)
        .position(|w| w == [0x61, b'v'])
        .ok_or_else(|| Error::invalid("record", "no version key"))?;
    other_version[at_version + 2] = 0x02;
    for (name, bytes) in [
        ("garbage.db", vec![0xff, 0x00, 0x13]),
        ("v2.db", other_version),
    ] {
        let phone = opened(name)?;
        phone.apply_sync_response(
            &[],
            docs.clone(),
            vec![(visit.clone(), bytes)],
            &[],
            None,
            "9",
        )?;
        assert!(stored_unbuilt(&phone)?.is_empty(), "{name}: built");
        assert_eq!(phone.visit(&visit)?.id, visit);
    }

    // Rows of the document before its last change (a server that kept them past a change
    // stored another way): not this document's, built.
    let count = docs[3].0.clone();
    let earlier = &docs[3].1[..docs[3].1.len() - 1];
    let stale = record(&count, earlier, "am-li")?;
    let phone = opened("stale.db")?;
    phone.apply_sync_response(
        &[],
        docs.clone(),
        vec![(count.clone(), stale)],
        &[],
        None,
        "9",
    )?;
    assert!(stored_unbuilt(&phone)?.is_empty(), "stale rows: built");

    // A change whose checksum does not hold is refused as it is without rows: the
    // response stores nothing.
    let mut broken = changes.clone();
    let last = broken
        .last_mut()
        .ok_or_else(|| Error::invalid("changes", "none"))?;
    let end = last.len() - 1;
    last[end] ^= 0x40;
    let phone = opened("broken.db")?;
    let mut sent = docs.clone();
    sent[2].1 = broken;
    assert!(
        phone
            .apply_sync_response(&[], sent, vec![(visit.clone(), good)], &[], None, "9")
            .is_err()
    );
    assert!(table_rows(&phone, &["SELECT id FROM documents"])?.is_empty());
    Ok(())
}

/// A phone that stored `docs` (the store first) from their records, with `index` instead
/// of the judge's records where given.
fn stored_from_records(
    dir: &std::path::Path,
    name: &str,
    docs: &[Document],
    index: Vec<(DocId, Vec<u8>)>,
) -> Result<LocalStore> {
    let (phone, _) = device(dir.join(name), "am-li", at("2026-11-23T10:00:00+08:00"))?;
    phone.apply_sync_response(&[], docs.to_vec(), index, &[], None, "9")?;
    Ok(phone)
}

fn records(docs: &[Document]) -> Result<Vec<(DocId, Vec<u8>)>> {
    docs.iter()
        .skip(1)
        .map(|(id, changes)| Ok((id.clone(), record(id, changes, "am-li")?)))
        .collect()
}

#[test]
fn the_received_check_builds_and_compacts_every_document_stored_from_rows_in_bounded_batches_and_changes_nothing_a_reader_sees()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let fast = stored_from_records(dir.path(), "fast.db", &docs, records(&docs)?)?;
    let built = stored_from_records(dir.path(), "built.db", &docs, Vec::new())?;
    let rows = table_rows(&fast, &TABLES)?;
    let bytes_before = table_rows(&fast, &["SELECT SUM(chunk_bytes) FROM documents"])?;

    let first = fast.check_received(2)?;
    assert_eq!((first.checked, first.remaining), (2, 1));
    let second = fast.check_received(2)?;
    assert_eq!((second.checked, second.remaining), (1, 0));
    assert!(first.corrected.is_empty() && second.corrected.is_empty());
    assert!(first.damaged.is_empty() && second.damaged.is_empty());
    assert_eq!(fast.check_received(2)?, crate::ReceivedCheck::default());

    assert_eq!(table_rows(&fast, &TABLES)?, rows, "the rows were right");
    assert_eq!(table_rows(&fast, &TABLES)?, table_rows(&built, &TABLES)?);
    assert!(
        stored_unbuilt(&fast)?.is_empty(),
        "every document has a snapshot"
    );
    assert_eq!(
        table_rows(&fast, &["SELECT COUNT(*) FROM chunks"])?,
        ["Integer(0)"],
        "the received changes were folded into snapshots (before: {bytes_before:?} bytes)"
    );
    let (visit, count) = (&docs[2].0, &docs[3].0);
    assert_eq!(fast.visit(visit)?, built.visit(visit)?);
    assert_eq!(fast.inventory_count(count)?, built.inventory_count(count)?);
    // Edited after the check (from its snapshot), the count indexes as the builder's does.
    fast.set_counted(count, "sku-002", 1)?;
    built.set_counted(count, "sku-002", 1)?;
    let counts = ["SELECT * FROM count_index", "SELECT * FROM conflict_index"];
    assert_eq!(table_rows(&fast, &counts)?, table_rows(&built, &counts)?);
    Ok(())
}

#[test]
fn rows_and_conflicts_a_server_made_up_are_replaced_by_the_documents_own_and_the_document_is_named()
-> Result<()> {
    use crate::kinds::feed_index::{SentRows, decode, forged};
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let built = stored_from_records(dir.path(), "built.db", &docs, Vec::new())?;
    let mut index = records(&docs)?;
    // The visit moved to another store, out of range, with a conflict it does not have.
    let (visit, changes) = &docs[2];
    let honest = decode(&index[1].1).ok_or_else(|| Error::invalid("record", "undecodable"))?;
    let SentRows::Visit { by, k, i, o, .. } = honest.rows else {
        return Err(Error::invalid("record", "not a visit's"));
    };
    let lie = SentRows::Visit {
        s: "01a24e3e-0000-7000-8000-000000000000".into(),
        by,
        k,
        i,
        o,
        r: Some(false),
    };
    index[1].1 = forged(lie, vec!["check_in.at".into()], changes);
    let fast = stored_from_records(dir.path(), "fast.db", &docs, index)?;
    assert_ne!(
        table_rows(&fast, &TABLES)?,
        table_rows(&built, &TABLES)?,
        "the lie was stored"
    );

    let report = fast.check_received(10)?;
    assert_eq!(report.checked, 3);
    assert_eq!(report.corrected, std::slice::from_ref(visit));
    assert_eq!(table_rows(&fast, &TABLES)?, table_rows(&built, &TABLES)?);
    Ok(())
}

#[test]
fn a_document_stored_from_rows_that_does_not_read_as_its_kind_is_kept_aside_as_damaged_with_its_changes()
-> Result<()> {
    use crate::fixtures::unreadable::{RawEdit, raw_change};
    use crate::kinds::feed_index::{decode, forged};
    let dir = tempfile::tempdir()?;
    let mut docs = source(dir.path())?;
    let mut index = records(&docs)?;
    // A visit whose last change deletes its check-in, sent with the rows it had before.
    let (visit, changes) = docs[2].clone();
    let bad = raw_change(
        &changes,
        &[RawEdit::delete("check_in")],
        "am-li",
        at("2026-11-23T09:30:00+08:00"),
    )?;
    let mut damaged = changes.clone();
    damaged.push(IncomingChange::parse(&bad)?.bytes());
    let honest = decode(&index[1].1).ok_or_else(|| Error::invalid("record", "undecodable"))?;
    index[1].1 = forged(honest.rows, Vec::new(), &damaged);
    docs[2].1 = damaged.clone();
    let fast = stored_from_records(dir.path(), "fast.db", &docs, index)?;
    assert_eq!(
        fast.visits_of_store(&docs[0].0)?,
        std::slice::from_ref(&visit),
        "listed"
    );

    let report = fast.check_received(10)?;
    assert_eq!(
        (report.checked, report.damaged.clone()),
        (2, vec![visit.clone()])
    );
    assert_eq!(report.remaining, 0);
    assert!(
        fast.visits_of_store(&docs[0].0)?.is_empty(),
        "left the lists"
    );
    let listed = fast.damaged_documents()?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, visit);
    assert!(!listed[0].earlier_version_kept);
    assert!(matches!(fast.visit(&visit), Err(Error::Damaged { .. })));

    // Every change it came with is kept, for the repair that makes it read again.
    let kept = fast.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert_eq!(kept, damaged, "every received change was kept");
    Ok(())
}

/// A phone that stored, from the server's rows, a visit whose last change deletes its
/// check-in: the phone, the documents, the visit and its changes as sent.
type UnreadableVisit = (LocalStore, Vec<Document>, DocId, Vec<Vec<u8>>);

fn stored_unreadable_visit(dir: &std::path::Path) -> Result<UnreadableVisit> {
    use crate::fixtures::unreadable::{RawEdit, raw_change};
    use crate::kinds::feed_index::{decode, forged};
    let mut docs = source(dir)?;
    let mut index = records(&docs)?;
    let (visit, changes) = docs[2].clone();
    let bad = raw_change(
        &changes,
        &[RawEdit::delete("check_in")],
        "am-li",
        at("2026-11-23T09:30:00+08:00"),
    )?;
    let mut damaged = changes.clone();
    damaged.push(IncomingChange::parse(&bad)?.bytes());
    let honest = decode(&index[1].1).ok_or_else(|| Error::invalid("record", "undecodable"))?;
    index[1].1 = forged(honest.rows, Vec::new(), &damaged);
    docs[2].1 = damaged.clone();
    let phone = stored_from_records(dir, "fast.db", &docs, index)?;
    Ok((phone, docs, visit, damaged))
}

/// A change of `changes`' document that sets its notes, as a server sends it.
fn note(changes: &[Vec<u8>], text: &str) -> Result<Vec<u8>> {
    use crate::fixtures::unreadable::{RawEdit, raw_change};
    let change = raw_change(
        changes,
        &[RawEdit::put_str("notes", text)],
        "am-li",
        at("2026-11-23T11:00:00+08:00"),
    )?;
    Ok(IncomingChange::parse(&change)?.bytes())
}

#[test]
fn a_document_of_a_newer_schema_is_set_aside_and_never_stalls_the_check() -> Result<()> {
    use crate::kinds::feed_index::{decode, forged};
    use automerge::transaction::{CommitOptions, Transactable};
    let dir = tempfile::tempdir()?;
    let mut docs = source(dir.path())?;
    let mut index = records(&docs)?;
    let (visit, changes) = docs[2].clone();
    let parsed = changes
        .iter()
        .map(|c| IncomingChange::parse(c).map(|c| c.bytes()))
        .collect::<Result<Vec<_>>>()?
        .iter()
        .map(|c| {
            automerge::Change::try_from(c.as_slice())
                .map_err(|e| Error::invalid("changes", e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut am = automerge::AutoCommit::new().with_actor(automerge::ActorId::random());
    am.apply_changes(parsed)?;
    am.put(
        automerge::ROOT,
        "schema",
        crate::doc::DOC_SCHEMA_VERSION + 1,
    )?;
    am.commit_with(
        CommitOptions::default()
            .with_message(r#"{"by":"am-li","what":"a newer app"}"#.to_owned())
            .with_time(at("2026-11-23T09:30:00+08:00").0),
    );
    let mut newer = am
        .get_last_local_change()
        .ok_or_else(|| Error::invalid("change", "none"))?
        .clone();
    let mut newer_changes = changes.clone();
    newer_changes.push(IncomingChange::parse(&newer.bytes())?.bytes());
    let honest = decode(&index[1].1).ok_or_else(|| Error::invalid("record", "undecodable"))?;
    index[1].1 = forged(honest.rows, Vec::new(), &newer_changes);
    docs[2].1 = newer_changes;
    let phone = stored_from_records(dir.path(), "fast.db", &docs, index)?;

    let report = phone.check_received(10)?;
    assert_eq!((report.checked, report.remaining), (2, 0));
    assert_eq!(report.damaged, std::slice::from_ref(&visit));
    assert_eq!(phone.check_received(10)?, crate::ReceivedCheck::default());
    Ok(())
}

#[test]
fn a_damaged_document_compacted_before_the_check_is_kept_aside_as_changes_a_later_sync_merges_with()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (phone, _docs, visit, damaged) = stored_unreadable_visit(dir.path())?;
    assert_eq!(phone.compact(1, 10)?, 3, "compaction reached it first");
    assert_eq!(
        phone.check_received(10)?.damaged,
        std::slice::from_ref(&visit)
    );
    let kept = phone.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert_eq!(kept.len(), damaged.len(), "its changes, one by one");
    let later = note(&damaged, "later")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![later])],
        Vec::new(),
        &[],
        None,
        "10",
    )?;
    assert_eq!(
        phone.damaged_documents()?.len(),
        1,
        "still unreadable, still listed"
    );
    Ok(())
}

#[test]
fn changes_the_merge_kept_aside_survive_the_check_setting_the_document_aside() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (phone, _docs, visit, damaged) = stored_unreadable_visit(dir.path())?;
    // A later sync brings X: the merge keeps it aside, the stored version stays.
    let x = note(&damaged, "x")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![x.clone()])],
        Vec::new(),
        &[],
        None,
        "10",
    )?;
    assert_eq!(phone.lock()?.held_changes(&visit)?, Some(vec![x.clone()]));

    assert_eq!(
        phone.check_received(10)?.damaged,
        std::slice::from_ref(&visit)
    );
    let kept = phone.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert!(kept.contains(&x), "X is still on the phone");
    // Y depends on X: the next sync merges it instead of failing.
    let mut with_x = damaged.clone();
    with_x.push(x);
    let y = note(&with_x, "y")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![y])],
        Vec::new(),
        &[],
        None,
        "11",
    )?;
    Ok(())
}

#[test]
fn a_visit_sent_with_a_counts_rows_is_stored_and_listed_as_the_visit_it_is_once_checked()
-> Result<()> {
    use crate::kinds::feed_index::{SentRows, forged};
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let built = stored_from_records(dir.path(), "built.db", &docs, Vec::new())?;
    let mut index = records(&docs)?;
    let (visit, changes) = &docs[2];
    let lie = SentRows::Count {
        s: docs[0].0.to_string(),
        a: 0,
        f: None,
        n: 0,
        c: 0,
        b: 0,
        d: 0,
    };
    index[1].1 = forged(lie, Vec::new(), changes);
    let phone = stored_from_records(dir.path(), "fast.db", &docs, index)?;
    assert!(
        phone.visits_of_store(&docs[0].0)?.is_empty(),
        "the lie hid it"
    );

    let report = phone.check_received(10)?;
    assert_eq!(report.corrected, std::slice::from_ref(visit));
    assert_eq!(
        phone.visits_of_store(&docs[0].0)?,
        built.visits_of_store(&docs[0].0)?
    );
    assert_eq!(table_rows(&phone, &TABLES)?, table_rows(&built, &TABLES)?);
    Ok(())
}
