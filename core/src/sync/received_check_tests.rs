//! The idle-time check of documents a first sync stored from the server's rows (ADR
//! 0036, `crate::store::received_check`): honest rows pass and the document is compacted;
//! rows, kinds, stores and ids a server made up are caught and replaced or set aside; and
//! nothing the phone holds of a document is lost on the way.

use super::unbuilt_tests::{Document, TABLES, record, source, stored_unbuilt};
use crate::error::{Error, Result};
use crate::fixtures::{at, device, sample_store};
use crate::ids::DocId;
use crate::kinds::feed_index::{SentRows, decode, forged};
use crate::store::LocalStore;
use crate::store::index::tests::table_rows;
use crate::sync::replica::IncomingChange;

/// A phone that stored `docs` (the store first) from their records, with `index` instead
/// of the judge's records where given.
pub(super) fn stored_from_records(
    dir: &std::path::Path,
    name: &str,
    docs: &[Document],
    index: Vec<(DocId, Vec<u8>)>,
) -> Result<LocalStore> {
    let (phone, _) = device(dir.join(name), "am-li", at("2026-11-23T10:00:00+08:00"))?;
    phone.apply_sync_response(&[], docs.to_vec(), index, &[], None, "9")?;
    Ok(phone)
}

pub(super) fn records(docs: &[Document]) -> Result<Vec<(DocId, Vec<u8>)>> {
    docs.iter()
        .skip(1)
        .map(|(id, changes)| Ok((id.clone(), record(id, changes, "am-li")?)))
        .collect()
}

/// Every change `store` publishes from now on, while the subscription lives.
pub(super) fn listen(
    store: &LocalStore,
) -> (impl Fn() -> Vec<crate::Topics>, crate::ChangeSubscription) {
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = heard.clone();
    let subscription = store.subscribe_changes(crate::Topics::ALL, move |topics, _| {
        if let Ok(mut heard) = into.lock() {
            heard.push(topics);
        }
    });
    let read = move || heard.lock().map(|h| h.clone()).unwrap_or_default();
    (read, subscription)
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
    let (heard, _listening) = listen(&fast);

    let first = fast.check_received(2)?;
    assert_eq!((first.checked, first.remaining), (2, 1));
    let second = fast.check_received(2)?;
    assert_eq!((second.checked, second.remaining), (1, 0));
    assert!(first.corrected.is_empty() && second.corrected.is_empty());
    assert!(first.damaged.is_empty() && second.damaged.is_empty());
    assert_eq!(fast.check_received(2)?, crate::ReceivedCheck::default());
    assert_eq!(
        heard(),
        [],
        "live lists were not told of rows rewritten as they were"
    );

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

    let (heard, _listening) = listen(&fast);
    let report = fast.check_received(10)?;
    assert_eq!(report.checked, 3);
    assert_eq!(report.corrected, std::slice::from_ref(visit));
    assert!(
        heard().iter().any(|t| t.intersects(crate::Topics::VISITS)),
        "the visits' list was told of the corrected rows: {:?}",
        heard()
    );
    assert_eq!(table_rows(&fast, &TABLES)?, table_rows(&built, &TABLES)?);
    Ok(())
}

/// A phone that stored, from records, the documents of [`source`] with `change` appended
/// to the visit's (`docs[2]`), sent with `rows` (given the visit's honest rows) for its new
/// heads: the phone, the documents as sent, the visit and its changes.
pub(super) type StoredVisit = (LocalStore, Vec<Document>, DocId, Vec<Vec<u8>>);

pub(super) fn stored_visit_with(
    dir: &std::path::Path,
    mut docs: Vec<Document>,
    change: Vec<u8>,
    rows: impl FnOnce(SentRows) -> SentRows,
) -> Result<StoredVisit> {
    let mut index = records(&docs[..4])?;
    let (visit, mut changes) = docs[2].clone();
    changes.push(change);
    let honest = decode(&index[1].1).ok_or_else(|| Error::invalid("record", "undecodable"))?;
    index[1].1 = forged(rows(honest.rows), Vec::new(), &changes);
    docs[2].1 = changes.clone();
    let phone = stored_from_records(dir, "fast.db", &docs, index)?;
    Ok((phone, docs, visit, changes))
}

/// A change of `changes`' document that deletes its check-in: a visit that does not read.
pub(super) fn check_in_deleted(changes: &[Vec<u8>]) -> Result<Vec<u8>> {
    use crate::fixtures::unreadable::{RawEdit, raw_change};
    let change = raw_change(
        changes,
        &[RawEdit::delete("check_in")],
        "am-li",
        at("2026-11-23T09:30:00+08:00"),
    )?;
    Ok(IncomingChange::parse(&change)?.bytes())
}

/// A change of `changes`' document that sets its schema past this build's, as a newer
/// app would.
pub(super) fn of_a_newer_schema(changes: &[Vec<u8>]) -> Result<Vec<u8>> {
    use automerge::transaction::{CommitOptions, Transactable};
    let parsed = changes
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
    Ok(IncomingChange::parse(&newer.bytes())?.bytes())
}

/// A phone that stored a visit whose last change deletes its check-in, with its honest
/// rows.
pub(super) fn stored_unreadable_visit(dir: &std::path::Path) -> Result<StoredVisit> {
    let docs = source(dir)?;
    let bad = check_in_deleted(&docs[2].1)?;
    stored_visit_with(dir, docs, bad, |rows| rows)
}

/// A change of `changes`' document that sets its notes, as a server sends it.
pub(super) fn note(changes: &[Vec<u8>], text: &str) -> Result<Vec<u8>> {
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
fn a_visit_sent_with_a_counts_rows_is_stored_and_listed_as_the_visit_it_is_once_checked()
-> Result<()> {
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

// ---- review 2 -------------------------------------------------------------------------

/// A count's rows for the visit `docs[2]` (a record of another kind).
pub(super) fn count_lie(docs: &[Document]) -> crate::kinds::feed_index::SentRows {
    crate::kinds::feed_index::SentRows::Count {
        s: docs[0].0.to_string(),
        a: 0,
        f: None,
        n: 0,
        c: 0,
        b: 0,
        d: 0,
    }
}

/// A document whose changes are another document's (root `id` names V, stored under
/// W) is refused by a merge that builds it (`check_identity`), but stored from a record
/// (records carry no id) and then passed by the check as sound; every later change of it
/// fails the sync.
#[test]
fn a_document_holding_another_documents_changes_is_set_aside_by_the_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut docs = source(dir.path())?;
    let mut index = records(&docs)?;
    let changes = docs[2].1.clone();
    let other = DocId::new();
    docs.push((other.clone(), changes));
    index.push((other.clone(), index[1].1.clone()));

    let (built, _) = device(
        dir.path().join("built.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let without_records = built.apply_sync_response(&[], docs.clone(), Vec::new(), &[], None, "9");
    assert!(without_records.is_err(), "a building merge refuses it");

    let phone = stored_from_records(dir.path(), "fast.db", &docs, index)?;
    let report = phone.check_received(10)?;
    assert_eq!(
        report.damaged,
        std::slice::from_ref(&other),
        "the check passes a document holding another document's changes"
    );
    Ok(())
}

/// A document the check sets aside is kept under the store the server's record named,
/// not the one the document names: a record naming another territory's store hides it from
/// its own manager's `rules_cannot_judge` for good.
#[test]
fn a_document_set_aside_is_listed_under_the_store_it_names_not_the_one_its_record_named()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut docs = source(dir.path())?;
    // Another territory's store, sent in the same response.
    let (other_phone, _) = device(
        dir.path().join("o.db"),
        "bo-wang",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let other_store = other_phone.create_store(sample_store("bo-wang", 2))?;
    let other_changes = other_phone
        .export_changes(&other_store, &[])?
        .iter()
        .map(|c| IncomingChange::parse(c).map(|c| c.bytes()))
        .collect::<Result<Vec<_>>>()?;
    docs.push((other_store.clone(), other_changes));
    // The unreadable visit, with its rows moved to that store.
    let bad = check_in_deleted(&docs[2].1)?;
    let moved = |rows| match rows {
        SentRows::Visit { by, k, i, o, r, .. } => SentRows::Visit {
            s: other_store.to_string(),
            by,
            k,
            i,
            o,
            r,
        },
        other => other,
    };
    let (phone, docs, visit, _) = stored_visit_with(dir.path(), docs, bad, moved)?;
    assert_eq!(
        phone.check_received(10)?.damaged,
        std::slice::from_ref(&visit)
    );
    let listed = phone.damaged_documents()?;
    let am_li = phone.rules_cannot_judge("am-li")?;
    assert_eq!(
        listed[0].store_id.as_ref(),
        Some(&docs[0].0),
        "kept under the record's store"
    );
    assert_eq!(am_li.len(), 1, "hidden from its own manager");
    Ok(())
}
