//! A push's changes are judged each on the document as it found them, so a fixed field
//! rewritten for one change of a push and put back by the next would have the change in
//! between judged against a task no reader ever sees (found by a review acting as an
//! assignee with a crafted client). A fixed field is now refused in the change that
//! rewrites it, and an entry of a container map is never removed.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ReadDoc};
use axum::http::StatusCode;
use fieldsync_core::fixtures::at;
use fieldsync_core::protocol::ErrorBody;
use fieldsync_core::{DocId, LocalStore, NewTask, TaskState};
use fieldsync_tests::crafted::{Crafted, now_ms};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const PHOTO: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A district with a store of Li's, a task the supervisor opened for Li, and both phones.
struct Field {
    district: Crafted,
    task: DocId,
    li: LocalStore,
    li_token: String,
    sup: LocalStore,
    sup_token: String,
}

impl Field {
    async fn new(label: &str) -> Fallible<Field> {
        let district = Crafted::new(label)?;
        let (sup, sup_token) = district.phone("sup-liu").await?;
        let task = sup.create_task(NewTask {
            store_id: district.store.clone(),
            title: "fix the price tags".into(),
            description: String::new(),
            assignee: "am-li".into(),
            deadline: at("2026-12-04T18:00:00+08:00"),
            origin: None,
        })?;
        district.server.sync_phone(&sup_token, &sup).await?;
        let (li, li_token) = district.phone("am-li").await?;
        Ok(Field {
            district,
            task,
            li,
            li_token,
            sup,
            sup_token,
        })
    }

    /// Li works the task honestly to `submitted`, with one after photo, and syncs.
    async fn li_submits(&self) -> Fallible<()> {
        self.li.move_task(&self.task, TaskState::InProgress, None)?;
        self.li.add_task_photo(&self.task, PHOTO, "tags in place")?;
        self.li.move_task(&self.task, TaskState::Submitted, None)?;
        self.district
            .server
            .sync_phone(&self.li_token, &self.li)
            .await?;
        assert_eq!(
            *self.li.task(&self.task)?.state.value(),
            TaskState::Submitted
        );
        Ok(())
    }

    /// The task as the server holds it, on a fork with a fresh actor (a crafted client).
    fn forged_base(&self) -> Fallible<(AutoCommit, Vec<automerge::ChangeHash>)> {
        let (mut doc, heads) = self.district.stored(&self.task)?;
        Ok((doc.fork().with_actor(automerge::ActorId::random()), heads))
    }

    /// Pushes `changes` of the task with Li's token, as a crafted client would.
    async fn li_pushes(&self, changes: Vec<Vec<u8>>) -> Fallible<(StatusCode, String)> {
        self.district
            .push_encoded(&self.li_token, &self.task, changes)
            .await
    }
}

fn commit(doc: &mut AutoCommit, time: i64) {
    doc.commit_with(CommitOptions::default().with_time(time));
}

/// protocol.md, the task state machine: `submitted` → `verified` by "anyone but the
/// assignee". Li, the assignee, sends two changes in one push: the first names `am-wu` as
/// the assignee and writes `verified` stamped by Li; the second puts `am-li` back. The
/// move is judged against the task as the first change left it (assignee `am-wu`), and the
/// fixed `assignee` only by comparing the push's start with its end (both `am-li`).
#[tokio::test]
async fn the_assignee_cannot_verify_their_own_task_by_renaming_the_assignee_within_one_push()
-> Fallible<()> {
    let field = Field::new("attack_self_verify").await?;
    field.li_submits().await?;

    let (mut doc, heads) = field.forged_base()?;
    let now = now_ms();
    doc.put(automerge::ROOT, "assignee", "am-wu")?;
    let state = serde_json::json!({"v": "verified", "by": "am-li", "at": now}).to_string();
    doc.put(automerge::ROOT, "state", state.as_str())?;
    commit(&mut doc, now);
    doc.put(automerge::ROOT, "assignee", "am-li")?;
    commit(&mut doc, now);
    let changes: Vec<Vec<u8>> = doc
        .get_changes(&heads)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(changes.len(), 2);

    let (status, body) = field.li_pushes(changes).await?;
    // What a reader then sees, to show the effect when the push is (wrongly) accepted.
    field
        .district
        .server
        .sync_phone(&field.sup_token, &field.sup)
        .await?;
    let seen = field.sup.task(&field.task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the assignee's own `verified` was accepted ({status} {body}); the supervisor's phone now reads the task as `{}` assigned to `{}`",
        seen.state.value().code(),
        seen.assignee
    );
    let refusal: ErrorBody = serde_json::from_str(&body)?;
    assert_eq!(refusal.error, "write_rule");
    assert_eq!(
        (
            refusal.rejected[0].rule.as_str(),
            refusal.rejected[0].field.as_str()
        ),
        ("transition", "assignee"),
        "{body}"
    );
    Ok(())
}

/// protocol.md: `in_progress` → `submitted` by the assignee "with at least one after photo
/// in `photos`". A submitted task whose only after photo is deleted in the next change of
/// the same push leaves a submitted (then verifiable) task with no after photo at all.
#[tokio::test]
async fn a_task_submitted_within_a_push_keeps_the_after_photo_it_was_submitted_with() -> Fallible<()>
{
    let field = Field::new("attack_photo_gone").await?;
    field
        .li
        .move_task(&field.task, TaskState::InProgress, None)?;
    field
        .district
        .server
        .sync_phone(&field.li_token, &field.li)
        .await?;

    let (mut doc, heads) = field.forged_base()?;
    let now = now_ms();
    let photos = match doc.get(automerge::ROOT, "photos")? {
        Some((automerge::Value::Object(_), id)) => id,
        _ => return Err("the task has no photos map".into()),
    };
    let entry = serde_json::json!({"caption": "after", "by": "am-li", "at": now}).to_string();
    doc.put(&photos, PHOTO, entry.as_str())?;
    let state = serde_json::json!({"v": "submitted", "by": "am-li", "at": now}).to_string();
    doc.put(automerge::ROOT, "state", state.as_str())?;
    commit(&mut doc, now);
    doc.delete(&photos, PHOTO)?;
    commit(&mut doc, now);
    let changes: Vec<Vec<u8>> = doc
        .get_changes(&heads)
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();

    let (status, body) = field.li_pushes(changes).await?;
    field
        .district
        .server
        .sync_phone(&field.sup_token, &field.sup)
        .await?;
    let seen = field.sup.task(&field.task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "accepted ({body}): the supervisor's phone reads the task as `{}` with {} after photos",
        seen.state.value().code(),
        seen.after_photos.len()
    );
    let refusal: ErrorBody = serde_json::from_str(&body)?;
    assert_eq!(refusal.rejected[0].rule, "transition", "{body}");
    assert_eq!(
        refusal.rejected[0].field,
        format!("photos.{PHOTO}"),
        "{body}"
    );
    assert_eq!(*seen.state.value(), TaskState::InProgress);
    Ok(())
}

/// `change` as if made on nothing: its dependencies dropped, its operations (and the
/// predecessors they name) kept.
fn on_nothing(change: &automerge::Change) -> automerge::Change {
    let mut expanded = change.decode();
    expanded.deps = Vec::new();
    expanded.hash = None;
    automerge::Change::from(expanded)
}

/// Review 23: the fixed fields are now judged per change "on the document as that change
/// found it", but only for a change with dependencies (`!change.deps().is_empty()`): one
/// without any is taken for the document's creation. Automerge applies a change whose
/// operations name, as their predecessors, operations outside its dependencies, so a
/// change with none can still rewrite a field of a task that exists. Li, the assignee,
/// sends three changes: X (no dependencies) names `am-wu` the assignee, over the stored
/// value; Y, built on the task and X, writes `verified` stamped by Li, judged against the
/// task as X left it; Z (no dependencies) puts `am-li` back over X's value. Neither X nor
/// Z is judged per change, and the push's start and end both read `am-li`.
#[tokio::test]
async fn a_change_without_dependencies_cannot_rename_the_assignee_for_the_next_change_of_the_push()
-> Fallible<()> {
    let field = Field::new("attack_no_deps").await?;
    field.li_submits().await?;
    let (mut base, _) = field.forged_base()?;
    let now = now_ms();

    // X: the assignee renamed, then its dependencies dropped.
    let mut x_doc = base.fork().with_actor(automerge::ActorId::random());
    x_doc.put(automerge::ROOT, "assignee", "am-wu")?;
    commit(&mut x_doc, now);
    let x = on_nothing(&x_doc.get_last_local_change().ok_or("no X")?.clone());
    assert!(x.deps().is_empty());

    // The task with X: Y verifies it (Li is not its assignee there).
    let mut with_x = base.fork();
    with_x.apply_changes([x.clone()])?;
    assert_eq!(
        with_x
            .get(automerge::ROOT, "assignee")?
            .map(|(v, _)| v.to_string()),
        Some("\"am-wu\"".to_owned()),
        "X's value is the only one"
    );
    let mut y_doc = with_x.fork().with_actor(automerge::ActorId::random());
    let state = serde_json::json!({"v": "verified", "by": "am-li", "at": now}).to_string();
    y_doc.put(automerge::ROOT, "state", state.as_str())?;
    commit(&mut y_doc, now);
    let y = y_doc.get_last_local_change().ok_or("no Y")?.clone();

    // Z: the assignee put back over X's value, then its dependencies dropped.
    let mut z_doc = with_x.fork().with_actor(automerge::ActorId::random());
    z_doc.put(automerge::ROOT, "assignee", "am-li")?;
    commit(&mut z_doc, now);
    let z = on_nothing(&z_doc.get_last_local_change().ok_or("no Z")?.clone());

    let changes: Vec<Vec<u8>> = [x, y, z].iter().map(|c| c.raw_bytes().to_vec()).collect();
    let (status, body) = field.li_pushes(changes).await?;
    field
        .district
        .server
        .sync_phone(&field.sup_token, &field.sup)
        .await?;
    let seen = field.sup.task(&field.task)?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the assignee's own `verified` was accepted ({status} {body}); the supervisor's phone now reads the task as `{}` assigned to `{}`",
        seen.state.value().code(),
        seen.assignee
    );
    Ok(())
}
