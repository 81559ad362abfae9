//! A document's changes may list at most `MAX_DOCUMENT_OPS` operations and predecessors;
//! the count a replica keeps is taken from its stored changes when it is loaded. Older
//! servers stored some changes compressed: such a change counts the same as when stored
//! plain, its predecessors included (found by a review: it counted only its operations).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ObjType};
use fieldsync_core::{DocId, IncomingChange, Replica};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn commit(doc: &mut AutoCommit) -> Fallible<automerge::Change> {
    doc.commit_with(CommitOptions::default().with_time(1_800_000_000_000));
    Ok(doc.get_last_local_change().ok_or("a change")?.clone())
}

#[test]
fn a_change_stored_compressed_counts_its_operations_and_predecessors_as_one_stored_plain()
-> Fallible<()> {
    let mut doc = AutoCommit::new();
    let map = doc.put_object(automerge::ROOT, "m", ObjType::Map)?;
    for i in 0..2_000 {
        doc.put(&map, format!("k{i}"), "a")?;
    }
    let first = commit(&mut doc)?;
    // Each put overwrites one: 2,000 operations and 2,000 predecessors.
    for i in 0..2_000 {
        doc.put(&map, format!("k{i}"), "b")?;
    }
    let second = commit(&mut doc)?;
    let mut compressed = second.clone();
    let packed = compressed.bytes().to_vec();
    assert_eq!(packed.get(8), Some(&2), "stored as a compressed chunk");
    let plain = second.raw_bytes().to_vec();
    assert_eq!(plain.get(8), Some(&1));

    let id = DocId::new();
    let as_plain = Replica::load(&id, [first.raw_bytes(), plain.as_slice()])?;
    let as_packed = Replica::load(&id, [first.raw_bytes(), packed.as_slice()])?;
    let pushed =
        IncomingChange::precheck(first.raw_bytes())?.ops + IncomingChange::precheck(&plain)?.ops;
    assert_eq!(as_plain.listed(), pushed, "as a push counts them");
    assert_eq!(as_packed.listed(), as_plain.listed());
    assert!(
        as_packed.listed() >= 6_000,
        "operations and predecessors: {}",
        as_packed.listed()
    );
    Ok(())
}
