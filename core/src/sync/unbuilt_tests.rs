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
pub(super) type Document = (DocId, Vec<Vec<u8>>);

/// The index tables and what the store records per document, in a fixed order.
pub(super) const TABLES: [&str; 6] = [
    "SELECT id, kind, store_id, hex(heads) FROM documents ORDER BY id",
    "SELECT * FROM visit_index ORDER BY id",
    "SELECT * FROM count_index ORDER BY id",
    "SELECT * FROM display_index ORDER BY id",
    "SELECT * FROM conflict_index ORDER BY doc_id, field",
    "SELECT doc_id, hex(server_heads) FROM outbox ORDER BY doc_id",
];

/// What a server would send of `id` with `changes`: the record its judge derived when
/// `user` pushed them.
pub(super) fn record(id: &DocId, changes: &[Vec<u8>], user: &str) -> Result<Vec<u8>> {
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
pub(super) fn source(dir: &std::path::Path) -> Result<Vec<Document>> {
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

pub(super) fn stored_unbuilt(phone: &LocalStore) -> Result<Vec<String>> {
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
