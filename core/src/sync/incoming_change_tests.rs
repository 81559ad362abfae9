//! What [`IncomingChange::parse`] lets in: one change, plain or compressed within bounds,
//! whose checksum holds.

use std::io::Write;

use automerge::transaction::Transactable;

use super::{IncomingChange, MAX_CHANGE_BYTES};
use crate::sync::change_ops::{Declared, declared_ops};

/// A chunk of `kind` holding `data`, with a checksum nothing checks before the bound.
fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
    leb128::write::unsigned(&mut out, data.len() as u64).expect("in memory");
    out.extend_from_slice(data);
    out
}

fn deflated_zeros(len: u64) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = len;
    // Bounded by `len`.
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        encoder.write_all(&block[..n]).expect("in memory");
        left -= n as u64;
    }
    encoder.finish().expect("in memory")
}

fn refusal(bytes: &[u8]) -> String {
    match IncomingChange::parse(bytes) {
        Ok(_) => panic!("parsed"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_compressed_change_that_inflates_past_the_bound_is_refused_before_it_is_inflated() {
    let bomb = chunk(2, &deflated_zeros(MAX_CHANGE_BYTES + 1));
    assert!(
        bomb.len() < 64 << 10,
        "a few kilobytes on the wire: {}",
        bomb.len()
    );
    let message = refusal(&bomb);
    assert!(message.contains("inflates past 8 MiB"), "{message}");
}

#[test]
fn a_compressed_change_within_the_bound_is_parsed_as_automerge_sends_it() {
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "notes", "shelf wiped, ".repeat(200))
        .expect("put");
    let mut change = doc.get_changes(&[]).pop().expect("a change").clone();
    let compressed = change.bytes().into_owned();
    assert_eq!(compressed.get(8), Some(&2), "Automerge compressed it");
    let parsed = IncomingChange::parse(&compressed).expect("a compressed change parses");
    assert_eq!(parsed.hash(), change.hash().to_string());
}

#[test]
fn chunks_other_than_a_change_are_refused_by_their_type() {
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "n", 1).expect("put");
    let saved = doc.save();
    let message = refusal(&saved);
    assert!(message.contains("chunk type 0"), "{message}");
    for bytes in [&b""[..], &b"\x85\x6f\x4a\x83"[..], &[0u8; 12][..]] {
        let message = refusal(bytes);
        assert!(message.contains("no whole chunk header"), "{message}");
    }
    let message = refusal(&chunk(2, b"not deflate at all"));
    assert!(message.contains("compression is broken"), "{message}");
}

/// A change chunk whose only column, the actions, is one run of `ops` values.
fn runs_of_actions(ops: u64) -> Vec<u8> {
    chunk(1, &actions_data(ops, 0))
}

/// The action column's specification, and the predecessors' group column's.
const ACTIONS: u64 = (4 << 4) | 2;
const PRED_GROUP: u64 = 7 << 4;

/// A change's data: no dependencies, an actor of one byte, sequence number and start op 1,
/// a message of `message` bytes, and `columns` (specification, bytes), in order.
fn change_data(message: usize, columns: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    let uleb = |data: &mut Vec<u8>, n: u64| {
        leb128::write::unsigned(data, n).expect("in memory");
    };
    uleb(&mut data, 0); // dependencies
    uleb(&mut data, 1); // the actor's length
    data.push(0xab);
    uleb(&mut data, 1); // sequence number
    uleb(&mut data, 1); // start op
    leb128::write::signed(&mut data, 0).expect("in memory"); // time
    uleb(&mut data, message as u64);
    data.extend(std::iter::repeat_n(b'a', message));
    uleb(&mut data, 0); // other actors
    uleb(&mut data, columns.len() as u64);
    for (spec, column) in columns {
        uleb(&mut data, *spec);
        uleb(&mut data, column.len() as u64);
    }
    for (_, column) in columns {
        data.extend_from_slice(column);
    }
    data
}

/// A run-length encoded column of one run: `count` (negative: that many literal values
/// follow) and `values`.
fn column(count: i64, values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    leb128::write::signed(&mut out, count).expect("in memory");
    for value in values {
        leb128::write::unsigned(&mut out, *value).expect("in memory");
    }
    out
}

/// A change's data: a message of `message` bytes, and one column, the actions, one run
/// of `ops` values.
fn actions_data(ops: u64, message: usize) -> Vec<u8> {
    change_data(message, &[(ACTIONS, column(ops as i64, &[1]))])
}

#[test]
fn a_change_listing_billions_of_operations_in_a_few_bytes_is_refused_before_automerge_walks_it() {
    let bomb = runs_of_actions(1 << 40);
    assert!(bomb.len() < 64, "{} bytes", bomb.len());
    let message = refusal(&bomb);
    assert!(message.contains("lists more than"), "{message}");
    // The same shape with a handful of operations goes on to Automerge, which judges it.
    let message = refusal(&runs_of_actions(3));
    assert!(!message.contains("lists more than"), "{message}");
}

#[test]
fn the_operations_counted_before_automerge_are_the_ones_automerge_counts() {
    use crate::fixtures::{at, device, routine_visit, sample_count, sample_store};
    let dir = tempfile::tempdir().expect("a folder");
    let (phone, _) = device(
        dir.path().join("p.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )
    .expect("a phone");
    let store = phone
        .create_store(sample_store("am-li", 1))
        .expect("a store");
    let display = phone.create_shelf_display(&store).expect("a display");
    let visit = phone
        .create_visit(routine_visit(&store, at("2026-11-23T09:00:00+08:00")))
        .expect("a visit");
    let count = phone
        .create_inventory_count(sample_count(&store, 30))
        .expect("a count");
    phone
        .append_visit_notes(&visit, &"shelf wiped. ".repeat(50))
        .expect("notes");
    let mut seen = 0;
    for doc in [&store, &display, &visit, &count] {
        for bytes in phone.export_changes(doc, &[]).expect("changes") {
            let change = automerge::Change::try_from(bytes.as_slice()).expect("a change");
            let head = crate::doc::chunk_head(&bytes).expect("a chunk");
            let data = &bytes[head.data_at..head.data_at + head.data_len];
            let mut inflated = Vec::new();
            let data = if head.kind == crate::doc::COMPRESSED_CHANGE {
                use std::io::Read;
                flate2::bufread::DeflateDecoder::new(data)
                    .read_to_end(&mut inflated)
                    .expect("inflates");
                &inflated[..]
            } else {
                data
            };
            let preds: usize = change
                .decode()
                .operations
                .iter()
                .map(|op| op.pred.len())
                .sum();
            let listed = (change.len() + preds) as u64;
            assert_eq!(
                declared_ops(data, u64::MAX),
                Declared::Ops(listed),
                "a change of `{doc}`"
            );
            assert!(
                listed < super::MAX_CHANGE_OPS / 10,
                "well within the bound: {listed}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "{seen} changes compared");
}

/// A change of one operation whose predecessors' group column lists `preds` of them.
fn one_op_with_preds(preds: u64) -> Vec<u8> {
    let columns = [
        (ACTIONS, column(1, &[1])),
        (PRED_GROUP, column(1, &[preds])),
    ];
    chunk(1, &change_data(0, &columns))
}

#[test]
fn a_change_whose_one_operation_lists_billions_of_predecessors_is_refused_before_automerge() {
    let bomb = one_op_with_preds(1 << 40);
    let message = refusal(&bomb);
    assert!(message.contains("lists more than"), "{message}");
    let message = refusal(&one_op_with_preds(2));
    assert!(!message.contains("lists more than"), "{message}");
}

#[test]
fn a_compressed_change_is_held_to_the_same_bound_on_operations() {
    // A message of 1 MiB compresses to about a kilobyte, around 4 million actions.
    let data = actions_data(4_000_000, 1 << 20);
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&data).expect("in memory");
    let compressed = chunk(2, &encoder.finish().expect("in memory"));
    assert!(
        compressed.len() < 8 << 10,
        "{} bytes sent",
        compressed.len()
    );
    let message = refusal(&compressed);
    assert!(message.contains("lists more than"), "{message}");
}

/// The unreadable runs: passed on to Automerge (as the first version of the check did),
/// this change would reach Automerge, which reads runs lazily and would list the 2^40
/// predecessors one by one.
#[test]
fn a_change_whose_runs_cannot_be_read_is_refused_before_automerge_reads_them() {
    // The action column says "two literal values follow" and holds one: the predecessors'
    // group column after it (2^40 of them) would never be counted.
    let data = change_data(
        0,
        &[
            (ACTIONS, column(-2, &[1])),
            (PRED_GROUP, column(1, &[1 << 40])),
        ],
    );
    let message = refusal(&chunk(1, &data));
    assert!(message.contains("cannot be read"), "{message}");
}

#[test]
fn a_change_plain_or_compressed_whose_checksum_does_not_hold_is_refused() {
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "notes", "short").expect("put");
    doc.commit();
    doc.put(automerge::ROOT, "notes", "shelf wiped, ".repeat(200))
        .expect("put");
    let sent: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .into_iter()
        .map(|mut c| c.bytes().into_owned())
        .collect();
    assert_eq!(
        sent.iter().map(|b| b[8]).collect::<Vec<_>>(),
        [1, 2],
        "one plain, one compressed"
    );
    for bytes in &sent {
        IncomingChange::parse(bytes).expect("as Automerge wrote it");
        for broken in [[0u8; 4], [bytes[4] ^ 1, bytes[5], bytes[6], bytes[7]]] {
            let mut forged = bytes.to_vec();
            forged[4..8].copy_from_slice(&broken);
            let message = refusal(&forged);
            assert!(message.contains("does not match its checksum"), "{message}");
            // Read back from a server's storage, as servers before the check stored it.
            IncomingChange::stored(&forged).expect("a stored change is read as Automerge reads it");
        }
    }
}
