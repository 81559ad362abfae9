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

/// Two changes of one actor, the second of its sequence given first: Automerge asserts
/// its order while applying them (a panic, which answered a push `500`).
#[test]
fn changes_automerge_cannot_apply_in_their_order_are_refused_not_a_panic() -> Fallible<()> {
    let actor = automerge::ActorId::random();
    let change = |seq: u64, start_op: u64| -> Fallible<Vec<u8>> {
        let made = automerge::Change::from(automerge::ExpandedChange {
            operations: vec![automerge::legacy::Op {
                action: automerge::legacy::OpType::Put(automerge::ScalarValue::Int(1)),
                obj: automerge::legacy::ObjectId::Root,
                key: automerge::legacy::Key::Map(format!("k{seq}").into()),
                pred: Vec::new().into(),
                insert: false,
            }],
            actor_id: actor.clone(),
            hash: None,
            seq,
            start_op: std::num::NonZeroU64::new(start_op).ok_or("op")?,
            time: 1_800_000_000_000,
            message: None,
            deps: Vec::new(),
            extra_bytes: Vec::new(),
            author: None,
        });
        Ok(made.raw_bytes().to_vec())
    };
    let sent: Vec<IncomingChange> = [change(2, 2)?, change(1, 1)?]
        .iter()
        .map(|b| IncomingChange::parse(b))
        .collect::<Result<_, _>>()?;
    let mut replica = Replica::empty(&DocId::new());
    let pusher = fieldsync_core::Pusher {
        user: "am-li",
        received_at: 1_800_000_000_000,
    };
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        replica.apply(&sent, &pusher).map(|r| r.is_ok())
    }));
    match answer {
        Ok(Err(e)) => assert!(e.to_string().contains("Automerge cannot apply"), "{e}"),
        Ok(Ok(applied)) => return Err(format!("not refused (judged: {applied})").into()),
        Err(_) => return Err("the apply panicked".into()),
    }
    Ok(())
}
