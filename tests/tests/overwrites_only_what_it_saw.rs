//! A change overwrites only what it had seen (ADR 0040). The per-change rules judge a
//! change on the document as the change found it; Automerge lets a change's operations
//! name, as the ones they overwrite, operations outside it (another change of the same
//! push, a stored change its dependencies leave out). Each test crafts such a change with
//! a device token and says what holds (found by a review acting as a token holder).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ChangeHash, ReadDoc};
use axum::http::StatusCode;
use fieldsync_core::fixtures::at;
use fieldsync_core::{
    CheckPoint, DocId, LocalStore, NewScorecard, NewTask, NewVisit, ScoreDimension, ScoreWeights,
    TaskState, VisitKind,
};
use fieldsync_tests::crafted::{Crafted as Field, MONDAY, now_ms};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const PHOTO: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// Commits `doc`'s pending operations and returns the change (made by a fresh actor).
fn commit(doc: &mut AutoCommit) -> Fallible<automerge::Change> {
    doc.commit_with(CommitOptions::default().with_time(now_ms()));
    Ok(doc
        .get_last_local_change()
        .ok_or("nothing committed")?
        .clone())
}

/// `change` with its dependencies replaced by `deps`: its operations (and the
/// predecessors they name) kept.
fn built_on(change: &automerge::Change, deps: &[ChangeHash]) -> automerge::Change {
    let mut expanded = change.decode();
    expanded.deps = deps.to_vec();
    expanded.hash = None;
    automerge::Change::from(expanded)
}

fn fresh(doc: &AutoCommit) -> AutoCommit {
    doc.clone().with_actor(automerge::ActorId::random())
}

fn stamped(fields: serde_json::Value) -> String {
    fields.to_string()
}

/// A task the supervisor opened for Li, with both phones synced.
async fn task_for_li(
    field: &Field,
) -> Fallible<(DocId, (LocalStore, String), (LocalStore, String))> {
    let sup = field.phone("sup-liu").await?;
    let task = sup.0.create_task(NewTask {
        store_id: field.store.clone(),
        title: "fix the price tags".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-12-04T18:00:00+08:00"),
        origin: None,
    })?;
    field.server.sync_phone(&sup.1, &sup.0).await?;
    let li = field.phone("am-li").await?;
    Ok((task, li, sup))
}

/// protocol.md, the task state machine: the assignee does not verify their own task;
/// "Fixed once written": `assignee` may not change in any change of a push, "judged ... on
/// the document as that change found it". Li's push: D (no dependencies) rewrites the
/// title as it is; X, built on D alone, names `am-wu` the assignee over the stored value
/// (it found a document with no assignee at all, so nothing is compared); Y, built on the
/// task and X, writes `verified` stamped by Li; Z (no dependencies) puts `am-li` back over
/// X's value. The supervisor's phone then reads the task verified by its own assignee.
#[tokio::test]
async fn a_change_built_on_a_side_branch_cannot_rename_the_assignee_for_the_next_change_of_the_push()
-> Fallible<()> {
    let field = Field::new("rev23b_side_branch")?;
    let (task, (li, li_token), (sup, sup_token)) = task_for_li(&field).await?;
    li.move_task(&task, TaskState::InProgress, None)?;
    li.add_task_photo(&task, PHOTO, "tags in place")?;
    li.move_task(&task, TaskState::Submitted, None)?;
    field.server.sync_phone(&li_token, &li).await?;

    let (base, _) = field.stored(&task)?;
    let now = now_ms();
    // D: a title edit, on nothing.
    let mut d_doc = fresh(&base);
    d_doc.put(
        automerge::ROOT,
        "title",
        "fix the price tags at the counter",
    )?;
    let d = built_on(&commit(&mut d_doc)?, &[]);
    // X: the assignee renamed over the stored value, built on D only.
    let mut x_doc = fresh(&base);
    x_doc.put(automerge::ROOT, "assignee", "am-wu")?;
    let x = built_on(&commit(&mut x_doc)?, &[d.hash()]);
    let mut with_x = base.clone();
    with_x.apply_changes([d.clone(), x.clone()])?;
    assert_eq!(
        with_x.get_all(automerge::ROOT, "assignee")?.len(),
        1,
        "X's value is the only one"
    );
    // Y: verified by Li, on the task with X.
    let mut y_doc = fresh(&with_x);
    let state = stamped(serde_json::json!({"v": "verified", "by": "am-li", "at": now}));
    y_doc.put(automerge::ROOT, "state", state.as_str())?;
    let y = commit(&mut y_doc)?;
    // Z: the assignee put back over X's value, on nothing.
    let mut z_doc = fresh(&with_x);
    z_doc.put(automerge::ROOT, "assignee", "am-li")?;
    let z = built_on(&commit(&mut z_doc)?, &[]);

    let (status, body) = field.push(&li_token, &task, &[d, x, y, z]).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    let seen = sup.task(&task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone reads the task `{}` (by `{}`) assigned to `{}`",
        seen.state.value().code(),
        seen.state.current.by,
        seen.assignee
    );
    Ok(())
}

/// The same rule for a task created in the push itself: the server holds nothing, so a
/// change without dependencies "found" nothing, yet it may name the creating change's
/// `assignee` as the value it overwrites. Li creates a task assigned to herself, works it
/// to `submitted`, renames the assignee (X, no dependencies), verifies it (Y), and puts
/// herself back (Z, no dependencies): a task verified by its own assignee.
#[tokio::test]
async fn a_new_tasks_assignee_cannot_be_renamed_by_a_change_without_dependencies_in_the_push_that_creates_it()
-> Fallible<()> {
    let field = Field::new("rev23b_new_task")?;
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
    let mut base = AutoCommit::new();
    for change in li.export_changes(&task, &[])? {
        base.load_incremental(&change)?;
    }
    let honest: Vec<automerge::Change> = base.get_changes(&[]);
    let now = now_ms();
    let mut x_doc = fresh(&base);
    x_doc.put(automerge::ROOT, "assignee", "am-wu")?;
    let x = built_on(&commit(&mut x_doc)?, &[]);
    let mut with_x = base.clone();
    with_x.apply_changes([x.clone()])?;
    let mut y_doc = fresh(&with_x);
    let state = stamped(serde_json::json!({"v": "verified", "by": "am-li", "at": now}));
    y_doc.put(automerge::ROOT, "state", state.as_str())?;
    let y = commit(&mut y_doc)?;
    let mut z_doc = fresh(&with_x);
    z_doc.put(automerge::ROOT, "assignee", "am-li")?;
    let z = built_on(&commit(&mut z_doc)?, &[]);

    let mut changes = honest;
    changes.extend([x, y, z]);
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
    Ok(())
}

/// A visit of Li's with the supervisor's comment, and Li's change X that writes Li's
/// entry over the comment (naming it as the value it overwrites) but declares as its
/// dependencies the visit as it was before the comment.
struct Overwritten {
    field: Field,
    visit: DocId,
    li_token: String,
    sup: LocalStore,
    sup_token: String,
    base: AutoCommit,
    x: automerge::Change,
}

async fn comment_overwritten(label: &str) -> Fallible<Overwritten> {
    let field = Field::new(label)?;
    let (li, li_token) = field.phone("am-li").await?;
    let visit = li.create_visit(NewVisit {
        store_id: field.store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at(MONDAY),
            gps: None,
        },
        complaint_id: None,
    })?;
    field.server.sync_phone(&li_token, &li).await?;
    let (sup, sup_token) = field.phone("sup-liu").await?;
    sup.comment_on_visit(&visit, "no one was in the store at this time: explain")?;
    field.server.sync_phone(&sup_token, &sup).await?;

    let (mut base, _) = field.stored(&visit)?;
    let before_comment = base
        .get_changes(&[])
        .last()
        .map(|c| c.deps().to_vec())
        .ok_or("no changes")?;
    let mut doc = fresh(&base);
    let comments = match doc.get(automerge::ROOT, "comments")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("the visit has no comments map".into()),
    };
    let key = doc.keys(&comments).next().ok_or("no comment")?;
    let mine = stamped(serde_json::json!({"text": "all fine", "by": "am-li", "at": now_ms()}));
    doc.put(&comments, &key, mine.as_str())?;
    let x = built_on(&commit(&mut doc)?, &before_comment);
    Ok(Overwritten {
        field,
        visit,
        li_token,
        sup,
        sup_token,
        base,
        x,
    })
}

/// protocol.md, "Who writes what": "an entry stamped by one user is written over only by
/// that user: a supervisor's comment stays on the visit it was written on". Li's change X
/// names the supervisor's comment as the value it overwrites but is built on the visit as
/// it was before the comment: the entry check reads the key there (empty) and in the
/// merged document (Li's value only, the comment overwritten). W, built on everything,
/// appends to the notes, so that the push's own view is the merged document.
#[tokio::test]
async fn a_visitor_cannot_overwrite_a_supervisors_comment_from_a_change_built_before_it()
-> Fallible<()> {
    let Overwritten {
        field,
        visit,
        li_token,
        sup,
        sup_token,
        base,
        x,
    } = comment_overwritten("rev23b_comment").await?;
    let mut with_x = base.clone();
    with_x.apply_changes([x.clone()])?;
    let mut w_doc = fresh(&with_x);
    let notes = match w_doc.get(automerge::ROOT, "notes")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("the visit has no notes".into()),
    };
    w_doc.splice_text(&notes, 0, 0, "checked again. ")?;
    let w = commit(&mut w_doc)?;

    let (status, body) = field.push(&li_token, &visit, &[x, w]).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    let seen = sup.visit(&visit)?.comments;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone now shows the comments {seen:?}"
    );
    Ok(())
}

/// protocol.md, the task state machine: no move leads back to `open` ("a new task starts
/// `open`"). A change without dependencies is taken for the task's creation by the move
/// check, which then only asks that it write `open`; Li's such change overwrites the
/// supervisor's `verified` with `open` (W, built on everything, keeps the push's own view
/// whole).
#[tokio::test]
async fn a_change_without_dependencies_cannot_move_a_verified_task_back_to_open() -> Fallible<()> {
    let field = Field::new("rev23b_back_to_open")?;
    let (task, (li, li_token), (sup, sup_token)) = task_for_li(&field).await?;
    li.move_task(&task, TaskState::InProgress, None)?;
    li.add_task_photo(&task, PHOTO, "tags in place")?;
    li.move_task(&task, TaskState::Submitted, None)?;
    field.server.sync_phone(&li_token, &li).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    sup.move_task(&task, TaskState::Verified, None)?;
    field.server.sync_phone(&sup_token, &sup).await?;
    assert_eq!(*sup.task(&task)?.state.value(), TaskState::Verified);

    let (base, _) = field.stored(&task)?;
    let mut x_doc = fresh(&base);
    let state = stamped(serde_json::json!({"v": "open", "by": "am-li", "at": now_ms()}));
    x_doc.put(automerge::ROOT, "state", state.as_str())?;
    let x = built_on(&commit(&mut x_doc)?, &[]);
    let mut with_x = base.clone();
    with_x.apply_changes([x.clone()])?;
    let mut w_doc = fresh(&with_x);
    w_doc.put(automerge::ROOT, "title", "fix the price tags again")?;
    let w = commit(&mut w_doc)?;

    let (status, body) = field.push(&li_token, &task, &[x, w]).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    let seen = sup.task(&task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone reads the task `{}`",
        seen.state.value().code()
    );
    Ok(())
}

/// protocol.md (and `scores_final`): scores are final once the account manager has
/// acknowledged them. The check reads the card as the change found it only for a change
/// with dependencies; the supervisor's change without any moves five points from one
/// dimension to another over the acknowledged values (the total, and so the
/// acknowledgement, unchanged).
#[tokio::test]
async fn a_change_without_dependencies_cannot_rewrite_scores_the_manager_acknowledged()
-> Fallible<()> {
    let field = Field::new("rev23b_scores")?;
    let (sup, sup_token) = field.phone("sup-liu").await?;
    let card = sup.create_scorecard(NewScorecard {
        manager: "am-li".into(),
        month: "2026-11".into(),
        weights: ScoreWeights::default(),
    })?;
    for dimension in ScoreDimension::ALL {
        sup.score_dimension(&card, dimension, 20.0)?;
    }
    field.server.sync_phone(&sup_token, &sup).await?;
    let (li, li_token) = field.phone("am-li").await?;
    li.acknowledge_scorecard(&card, Some("agreed"))?;
    field.server.sync_phone(&li_token, &li).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    assert!(sup.scorecard(&card)?.acknowledgement.is_some());

    let (base, _) = field.stored(&card)?;
    let mut x_doc = fresh(&base);
    let scores = match x_doc.get(automerge::ROOT, "scores")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("no scores map".into()),
    };
    let now = now_ms();
    for (dimension, points) in [("visit_frequency", 25.0), ("brand_promotion", 15.0)] {
        let entry = match x_doc.get(&scores, dimension)? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                automerge::ScalarValue::Str(t) => t.to_string(),
                other => return Err(format!("a score as {other:?}").into()),
            },
            other => return Err(format!("the score {dimension}: {other:?}").into()),
        };
        let mut entry: serde_json::Value = serde_json::from_str(&entry)?;
        entry["v"] = serde_json::json!(points);
        entry["by"] = serde_json::json!("sup-liu");
        entry["at"] = serde_json::json!(now);
        x_doc.put(&scores, dimension, entry.to_string())?;
    }
    let x = built_on(&commit(&mut x_doc)?, &[]);
    let mut with_x = base.clone();
    with_x.apply_changes([x.clone()])?;
    let mut w_doc = fresh(&with_x);
    let evidence = match w_doc.get(automerge::ROOT, "evidence")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("no evidence map".into()),
    };
    let text = match w_doc.get(&evidence, "visit_frequency")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("no evidence text".into()),
    };
    w_doc.splice_text(&text, 0, 0, "re-checked")?;
    let w = commit(&mut w_doc)?;

    let (status, body) = field.push(&sup_token, &card, &[x, w]).await?;
    field.server.sync_phone(&li_token, &li).await?;
    let seen = li.scorecard(&card)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): Li's phone reads the acknowledged card's scores as {:?}",
        seen.scores
            .iter()
            .map(|(d, v)| (d.code(), v.as_ref().map(|v| v.value().to_owned())))
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// ADR 0032 and the state machine: a reviewer's decision made concurrently with the
/// assignee's move is shown over it, and `reopened` leads only to `in_progress`. Li's
/// change declares the task as it was before she submitted (`in_progress`, photo taken) as
/// its dependencies, writes `submitted` (legal from there), but names the supervisor's
/// `reopened` as the value it overwrites: the reopening is gone from every reader.
#[tokio::test]
async fn an_assignees_move_built_before_a_reopening_cannot_overwrite_the_reopening() -> Fallible<()>
{
    let field = Field::new("rev23b_reopen")?;
    let (task, (li, li_token), (sup, sup_token)) = task_for_li(&field).await?;
    li.move_task(&task, TaskState::InProgress, None)?;
    li.add_task_photo(&task, PHOTO, "tags in place")?;
    field.server.sync_phone(&li_token, &li).await?;
    let (_, in_progress) = field.stored(&task)?;
    li.move_task(&task, TaskState::Submitted, None)?;
    field.server.sync_phone(&li_token, &li).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    sup.move_task(
        &task,
        TaskState::Reopened,
        Some("the tags are still missing"),
    )?;
    field.server.sync_phone(&sup_token, &sup).await?;

    let (base, _) = field.stored(&task)?;
    let mut x_doc = fresh(&base);
    let state = stamped(serde_json::json!({"v": "submitted", "by": "am-li", "at": now_ms()}));
    x_doc.put(automerge::ROOT, "state", state.as_str())?;
    let x = built_on(&commit(&mut x_doc)?, &in_progress);

    let (status, body) = field.push(&li_token, &task, &[x]).await?;
    field.server.sync_phone(&sup_token, &sup).await?;
    let seen = sup.task(&task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone reads the task `{}` (other versions: {:?})",
        seen.state.value().code(),
        seen.state
            .others
            .iter()
            .map(|w| w.value.code())
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// protocol.md, "What the server does with a push": anything that is not a valid change is
/// `400`, and a document the rules refuse `403`; `500` is a server bug. The same crafted
/// change pushed alone (the push's own view is then not the merged document) makes
/// Automerge panic while the judge forks the document at the sender's heads (the change
/// names the supervisor's actor, which nothing in its history holds): a `500`, and each
/// such push poisons the writer's lock, which clears the server's replica cache.
#[tokio::test]
async fn a_change_naming_an_operation_outside_its_history_is_refused_not_an_internal_error()
-> Fallible<()> {
    let o = comment_overwritten("rev23b_panic").await?;
    let (status, body) = o.field.push(&o.li_token, &o.visit, &[o.x]).await?;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN,
        "{status} {body}"
    );
    Ok(())
}
