//! What [`IncomingChange::parse`] lets in: one change, plain or compressed within bounds.

use std::io::Write;

use automerge::transaction::Transactable;

use super::{IncomingChange, MAX_CHANGE_BYTES};

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
