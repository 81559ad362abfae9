//! The rule "a change overwrites only what it had seen" (ADR 0040, `core/src/kinds/seen.rs`)
//! takes a predecessor of the change's own actor for "an earlier operation of the same
//! change" only inside the change's own range, and a change must number its operations
//! after the history it builds on: Automerge checks neither, so a crafted change of the
//! same actor, numbered below the operation it names, could overwrite it unseen (found by
//! a review acting as a token holder; the push was answered 500 by a panic).

use automerge::legacy;
use automerge::{AutoCommit, ChangeHash, ReadDoc};
use axum::http::StatusCode;
use fieldsync_core::fixtures::at;
use fieldsync_core::{NewTask, TaskState};
use fieldsync_tests::crafted::{Crafted as Field, now_ms};
use std::collections::HashMap;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const PHOTO: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// `id` moved `by` counters up when it is `actor`'s.
fn shift(id: &legacy::OpId, actor: &automerge::ActorId, by: u64) -> legacy::OpId {
    if id.actor() == actor {
        legacy::OpId::new(id.counter() + by, actor)
    } else {
        id.clone()
    }
}

/// `changes` (all by `actor`) with every operation of `actor` numbered `by` higher (and
/// their dependencies renamed): the same document, with counters 1..=by left unused.
fn renumbered(
    changes: &[automerge::Change],
    actor: &automerge::ActorId,
    by: u64,
) -> Vec<automerge::Change> {
    let mut renamed: HashMap<ChangeHash, ChangeHash> = HashMap::new();
    let mut out = Vec::new();
    for change in changes {
        let mut c = change.decode();
        c.hash = None;
        c.start_op = std::num::NonZeroU64::new(c.start_op.get() + by).expect("nonzero");
        c.deps = c
            .deps
            .iter()
            .map(|d| *renamed.get(d).unwrap_or(d))
            .collect();
        for op in &mut c.operations {
            if let legacy::ObjectId::Id(id) = &op.obj {
                op.obj = legacy::ObjectId::Id(shift(id, actor, by));
            }
            if let legacy::Key::Seq(legacy::ElementId::Id(id)) = &op.key {
                op.key = legacy::Key::Seq(legacy::ElementId::Id(shift(id, actor, by)));
            }
            op.pred = op.pred.iter().map(|p| shift(p, actor, by)).collect();
        }
        let rebuilt = automerge::Change::from(c);
        renamed.insert(change.hash(), rebuilt.hash());
        out.push(rebuilt);
    }
    out
}

/// A change of `actor` written by hand.
fn crafted(
    actor: &automerge::ActorId,
    seq: u64,
    start_op: u64,
    deps: Vec<ChangeHash>,
    operations: Vec<legacy::Op>,
) -> automerge::Change {
    automerge::Change::from(automerge::ExpandedChange {
        operations,
        actor_id: actor.clone(),
        hash: None,
        seq,
        start_op: std::num::NonZeroU64::new(start_op).expect("counted from 1"),
        time: now_ms(),
        message: None,
        deps,
        extra_bytes: Vec::new(),
        author: None,
    })
}

fn put_assignee(value: &str, over: legacy::OpId) -> legacy::Op {
    legacy::Op {
        action: legacy::OpType::Put(automerge::ScalarValue::Str(value.into())),
        obj: legacy::ObjectId::Root,
        key: legacy::Key::Map("assignee".into()),
        pred: vec![over].into(),
        insert: false,
    }
}

/// The attack of `a_new_tasks_assignee_cannot_be_renamed_...` (overwrites_only_what_it_saw.rs)
/// with every crafted change made by the actor of Li's own task changes, numbered below
/// the operations it overwrites. Push 1: Li's task (assigned to herself, worked to
/// `submitted`), its operations numbered from 101. Push 2: H (no operations, start op 2:
/// the document as X finds it is empty); X (start op 2) puts am-wu over the creating
/// change's assignee; W (no operations, numbered above all) joins them; Y (start op 3)
/// writes `verified` by Li over `submitted`, where am-wu is the assignee; V (no operations,
/// start op 2); Z (start op 1) puts Li back over X's value. Every predecessor X, Y and Z
/// name is of their own actor and at or above their start op, so `seen::named_elsewhere`
/// takes each for "an earlier operation of the same change" and the rule never looks: the
/// push reaches the move check, where Automerge panics forking the document at Y's
/// dependencies (the 500 the rule was meant to end; with the panic gone, a task verified by
/// its own assignee). Should be: refused, `transition`, `change.ops`.
#[tokio::test]
async fn a_change_cannot_overwrite_unseen_an_operation_of_its_own_actor_numbered_above_its_start()
-> Fallible<()> {
    let field = Field::new("rev23c_own_range")?;
    let (li, li_token) = field.phone("am-li").await?;
    let (sup, sup_token) = field.phone("sup-liu").await?;
    let task = li.create_task(NewTask {
        store_id: field.store.clone(),
        title: "fix the price tags".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-12-04T18:00:00+08:00"),
        origin: None,
    })?;
    li.move_task(&task, TaskState::InProgress, None)?;
    li.add_task_photo(&task, PHOTO, "tags in place")?;
    li.move_task(&task, TaskState::Submitted, None)?;
    let mut exported = AutoCommit::new();
    for change in li.export_changes(&task, &[])? {
        exported.load_incremental(&change)?;
    }
    let honest_raw = exported.get_changes(&[]);
    let p = honest_raw[0].actor_id().clone();
    assert!(honest_raw.iter().all(|c| c.actor_id() == &p), "one actor");
    // The task's changes, numbered from 101 (counters 1..=100 unused), pushed as they are.
    let honest = renumbered(&honest_raw, &p, 100);
    let n = honest.len() as u64;
    let (status, body) = field.push(&li_token, &task, &honest).await?;
    assert_eq!(status, StatusCode::OK, "the task's own changes: {body}");
    let mut base = AutoCommit::new();
    base.apply_changes(honest.clone())?;
    assert_eq!(
        base.get(automerge::ROOT, "assignee")?
            .map(|(v, _)| v.to_string()),
        Some("\"am-li\"".to_owned()),
        "the renumbered task reads as the honest one"
    );
    let head = base.get_heads();
    let op_at = |doc: &AutoCommit, key: &str| -> Fallible<legacy::OpId> {
        match doc.get(automerge::ROOT, key)?.ok_or("no value")?.1 {
            automerge::ObjId::Id(counter, actor, _) => Ok(legacy::OpId::new(counter, &actor)),
            automerge::ObjId::Root => Err("root".into()),
        }
    };
    let assignee_op = op_at(&base, "assignee")?;
    let state_op = op_at(&base, "state")?;
    let top = honest.iter().map(|c| c.max_op()).max().unwrap_or(0);

    // H: no operations, numbered below C: the document as X finds it is empty.
    let h = crafted(&p, n + 1, 2, head.clone(), vec![]);
    // X: am-wu over C's assignee (a predecessor "of its own": 101.. >= 2).
    let x = crafted(
        &p,
        n + 2,
        2,
        vec![h.hash()],
        vec![put_assignee("am-wu", assignee_op)],
    );
    // W: no operations, numbered above everything: the task with X's assignee.
    let w = crafted(&p, n + 3, top + 1, vec![x.hash()], vec![]);
    let mut with_w = base.clone();
    with_w.apply_changes([h.clone(), x.clone(), w.clone()])?;
    assert_eq!(
        with_w
            .get(automerge::ROOT, "assignee")?
            .map(|(v, _)| v.to_string()),
        Some("\"am-wu\"".to_owned())
    );
    // Y: `verified` by Li over C's `submitted`, on the task where am-wu is the assignee.
    let state = serde_json::json!({"v": "verified", "by": "am-li", "at": now_ms()}).to_string();
    let y = crafted(
        &p,
        n + 4,
        3,
        vec![w.hash()],
        vec![legacy::Op {
            action: legacy::OpType::Put(automerge::ScalarValue::Str(state.as_str().into())),
            obj: legacy::ObjectId::Root,
            key: legacy::Key::Map("state".into()),
            pred: vec![state_op].into(),
            insert: false,
        }],
    );
    // V: no operations, numbered below X: the document as Z finds it is empty.
    let v = crafted(&p, n + 5, 2, vec![y.hash()], vec![]);
    // Z: Li put back over X's value (a predecessor "of its own": 2 >= 1).
    let z = crafted(
        &p,
        n + 6,
        1,
        vec![v.hash()],
        vec![put_assignee("am-li", legacy::OpId::new(2, &p))],
    );

    let changes = vec![h, x, w, y, v, z];
    let (status, body) = field.push(&li_token, &task, &changes).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    let seen = sup.task(&task);
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone reads {:?}",
        seen.map(|t| (
            t.state.value().code(),
            t.state.current.by.clone(),
            t.assignee
        ))
    );
    assert!(body.contains("change.ops"), "{body}");
    Ok(())
}
