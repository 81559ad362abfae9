//! Rectification tasks through the public API: the state machine and its refusals, after
//! photos, deadlines, the open-task list, and concurrent moves on two phones.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, DocKind, Error, LocalStore, NewTask, NewVisit, StoreOptions,
    TaskOrigin, TaskState, Timestamp, VisitKind,
};

const PHOTO: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The arrows of the state machine; every other pair is refused.
const ALLOWED: [(TaskState, TaskState); 5] = [
    (TaskState::Open, TaskState::InProgress),
    (TaskState::InProgress, TaskState::Submitted),
    (TaskState::Submitted, TaskState::Verified),
    (TaskState::Submitted, TaskState::Reopened),
    (TaskState::Reopened, TaskState::InProgress),
];

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn open(dir: &tempfile::TempDir, user: &str) -> (LocalStore, ManualClock) {
    let clock = ManualClock::starting_at(t("2026-11-23T09:00:00+08:00"));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    let store = LocalStore::open(
        dir.path().join(format!("{user}.db")),
        DeviceIdentity::new(user, format!("{user}-phone")),
        options,
    )
    .expect("open store");
    (store, clock)
}

fn send(from: &LocalStore, to: &LocalStore, id: &DocId) -> fieldsync_core::Result<()> {
    to.merge_changes(id, &from.export_changes(id, &[])?)
}

fn new_task(store: &DocId, title: &str, deadline: &str) -> NewTask {
    NewTask {
        store_id: store.clone(),
        title: title.into(),
        description: "four price tags missing on the top shelf".into(),
        assignee: "am-li".into(),
        deadline: t(deadline),
        origin: None,
    }
}

/// Moves a fresh task of `db` (not its assignee) along the happy path up to `state`.
fn task_in(db: &LocalStore, store: &DocId, state: TaskState) -> fieldsync_core::Result<DocId> {
    let id = db.create_task(new_task(store, "fix tags", "2026-11-30T18:00:00+08:00"))?;
    let path: &[TaskState] = match state {
        TaskState::Open => &[],
        TaskState::InProgress => &[TaskState::InProgress],
        TaskState::Submitted => &[TaskState::InProgress, TaskState::Submitted],
        TaskState::Verified => &[
            TaskState::InProgress,
            TaskState::Submitted,
            TaskState::Verified,
        ],
        TaskState::Reopened => &[
            TaskState::InProgress,
            TaskState::Submitted,
            TaskState::Reopened,
        ],
    };
    db.add_task_photo(&id, PHOTO, "after")?;
    for step in path {
        db.move_task(&id, *step, Some("because"))?;
    }
    Ok(id)
}

#[test]
fn a_task_goes_from_open_to_verified_with_an_after_photo() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = db.create_task(new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00"))?;
    let task = db.task(&id)?;
    assert_eq!(*task.state.value(), TaskState::Open);
    assert_eq!(
        (task.created_by.as_str(), task.created_at),
        ("sup-wang", clock.now())
    );
    db.move_task(&id, TaskState::InProgress, None)?;
    db.add_task_photo(&id, PHOTO, "tags in place")?;
    db.move_task(&id, TaskState::Submitted, None)?;
    clock.advance_minutes(30);
    db.move_task(&id, TaskState::Verified, Some("checked on the spot"))?;
    let task = db.task(&id)?;
    assert_eq!(*task.state.value(), TaskState::Verified);
    assert_eq!(task.state.current.by, "sup-wang");
    assert_eq!(task.state.current.at, clock.now());
    assert_eq!(task.state_note.as_deref(), Some("checked on the spot"));
    assert_eq!(task.after_photos.len(), 1);
    assert_eq!(task.after_photos[0].hash, PHOTO);
    Ok(())
}

#[test]
fn every_move_the_state_machine_does_not_allow_is_refused_and_nothing_is_written()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let mut refused = 0;
    for from in TaskState::ALL {
        let id = task_in(&db, &store, from)?;
        for to in TaskState::ALL {
            if ALLOWED.contains(&(from, to)) {
                assert!(from.can_move_to(to), "{from:?} -> {to:?}");
                continue;
            }
            let heads = db.heads(&id)?;
            let err = db.move_task(&id, to, Some("try")).expect_err("illegal");
            match err {
                Error::IllegalTransition {
                    kind: DocKind::Task,
                    id: ref err_id,
                    from: ref f,
                    to: ref t,
                } => {
                    assert_eq!(
                        (err_id, f.as_str(), t.as_str()),
                        (&id.to_string(), from.code(), to.code())
                    );
                }
                other => panic!("{from:?} -> {to:?}: {other}"),
            }
            assert_eq!(db.heads(&id)?, heads, "{from:?} -> {to:?} wrote nothing");
            assert_eq!(*db.task(&id)?.state.value(), from);
            refused += 1;
        }
    }
    assert_eq!(refused, 25 - ALLOWED.len());
    Ok(())
}

#[test]
fn submitting_without_an_after_photo_is_refused() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = db.create_task(new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00"))?;
    db.move_task(&id, TaskState::InProgress, None)?;
    let err = db
        .move_task(&id, TaskState::Submitted, None)
        .expect_err("needs a photo");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "after_photos"),
        "{err}"
    );
    let err = db
        .add_task_photo(&id, "sha256:1234", "blurry")
        .expect_err("not a content hash");
    assert!(err.to_string().contains("`sha256:1234`"), "{err}");
    assert_eq!(*db.task(&id)?.state.value(), TaskState::InProgress);
    db.add_task_photo(&id, PHOTO, "after")?;
    db.move_task(&id, TaskState::Submitted, None)?;
    assert!(
        db.add_task_photo(&id, PHOTO, "late").is_err(),
        "submitted takes no photos"
    );
    Ok(())
}

#[test]
fn reopening_needs_a_reason_and_sends_the_task_back_to_work() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = task_in(&db, &store, TaskState::Submitted)?;
    let err = db
        .move_task(&id, TaskState::Reopened, Some("  "))
        .expect_err("say why");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "note"),
        "{err}"
    );
    db.move_task(&id, TaskState::Reopened, Some("two tags still missing"))?;
    assert_eq!(
        db.task(&id)?.state_note.as_deref(),
        Some("two tags still missing")
    );
    db.move_task(&id, TaskState::InProgress, None)?;
    db.move_task(&id, TaskState::Submitted, None)?;
    assert_eq!(*db.task(&id)?.state.value(), TaskState::Submitted);
    Ok(())
}

#[test]
fn the_assignee_cannot_verify_their_own_task() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sup, _) = open(&dir, "sup-wang");
    let (am, _) = open(&dir, "am-li");
    let store = sup.create_store(sample_store("am-li", 1))?;
    let id = task_in(&sup, &store, TaskState::Submitted)?;
    send(&sup, &am, &id)?;
    let err = am
        .move_task(&id, TaskState::Verified, None)
        .expect_err("not their own");
    assert!(err.to_string().contains("`am-li` cannot verify"), "{err}");
    Ok(())
}

#[test]
fn a_deadline_not_after_the_creation_time_is_refused() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let now = clock.now();
    for deadline in [now, Timestamp(now.0 - 1)] {
        let err = db
            .create_task(NewTask {
                deadline,
                ..new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00")
            })
            .expect_err("must refuse");
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "deadline"),
            "{err}"
        );
    }
    assert!(db.document_ids(DocKind::Task)?.is_empty());
    db.create_task(NewTask {
        deadline: Timestamp(now.0 + 1),
        ..new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00")
    })?;
    Ok(())
}

#[test]
fn a_task_needs_a_known_store_and_an_origin_of_that_store() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let other = db.create_store(sample_store("am-li", 2))?;
    let err = db
        .create_task(new_task(
            &DocId::new(),
            "fix tags",
            "2026-11-30T18:00:00+08:00",
        ))
        .expect_err("unknown store");
    assert!(
        err.to_string()
            .starts_with("invalid `store_id`: unknown store"),
        "{err}"
    );
    let visit = db.create_visit(NewVisit {
        store_id: other.clone(),
        kind: VisitKind::SupervisionSpotCheck,
        check_in: CheckPoint {
            at: t("2026-11-23T08:40:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    let err = db
        .create_task(NewTask {
            origin: Some(TaskOrigin::Visit(visit.clone())),
            ..new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00")
        })
        .expect_err("the visit was to another store");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "origin"),
        "{err}"
    );
    let id = db.create_task(NewTask {
        origin: Some(TaskOrigin::Visit(visit.clone())),
        ..new_task(&other, "fix tags", "2026-11-30T18:00:00+08:00")
    })?;
    assert_eq!(db.task(&id)?.origin, Some(TaskOrigin::Visit(visit)));
    Ok(())
}

#[test]
fn open_tasks_lists_unverified_tasks_by_deadline_and_flags_the_overdue()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "sup-wang");
    let store = db.create_store(sample_store("am-li", 1))?;
    let late = db.create_task(new_task(
        &store,
        "repaint sign",
        "2026-12-10T18:00:00+08:00",
    ))?;
    let soon = db.create_task(new_task(&store, "fix tags", "2026-11-25T18:00:00+08:00"))?;
    let done = task_in(&db, &store, TaskState::Verified)?;
    let others = db.create_task(NewTask {
        assignee: "am-zhou".into(),
        ..new_task(&store, "not li's", "2026-11-24T18:00:00+08:00")
    })?;
    db.move_task(&soon, TaskState::InProgress, None)?;

    let at_deadline = db.open_tasks("am-li", t("2026-11-25T18:00:00+08:00"))?;
    let ids: Vec<&DocId> = at_deadline.iter().map(|d| &d.id).collect();
    assert_eq!(
        ids,
        vec![&soon, &late],
        "verified and other people's tasks are left out"
    );
    assert!(!ids.contains(&&done) && !ids.contains(&&others));
    assert_eq!(at_deadline[0].state, TaskState::InProgress);
    assert_eq!(at_deadline[0].title, "fix tags");
    assert_eq!(at_deadline[0].store_id, store);
    assert!(
        !at_deadline[0].overdue,
        "due exactly now is not overdue yet"
    );

    let a_moment_later = db.open_tasks("am-li", t("2026-11-25T18:00:00.001+08:00"))?;
    assert!(a_moment_later[0].overdue);
    assert!(!a_moment_later[1].overdue);
    Ok(())
}

#[test]
fn two_people_moving_a_task_concurrently_both_show_as_a_conflict() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, _) = open(&dir, "am-li");
    let (sup, sup_clock) = open(&dir, "sup-wang");
    let store = sup.create_store(sample_store("am-li", 1))?;
    let id = sup.create_task(new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00"))?;
    send(&sup, &am, &id)?;
    am.move_task(&id, TaskState::InProgress, None)?;
    am.add_task_photo(&id, PHOTO, "after")?;
    am.move_task(&id, TaskState::Submitted, None)?;
    send(&am, &sup, &id)?;

    // Offline, the supervisor verifies while the account manager takes it back.
    sup_clock.advance_minutes(10);
    sup.move_task(&id, TaskState::Verified, None)?;
    am.move_task(&id, TaskState::Reopened, Some("second shelf not done"))?;
    send(&am, &sup, &id)?;
    send(&sup, &am, &id)?;

    let (a, s) = (am.task(&id)?, sup.task(&id)?);
    assert_eq!(a.state, s.state, "both devices show the same versions");
    assert!(a.state.is_conflict());
    let mut states: Vec<(TaskState, &str)> =
        a.state.all().map(|w| (w.value, w.by.as_str())).collect();
    states.sort_by_key(|(state, _)| state.code());
    assert_eq!(
        states,
        vec![
            (TaskState::Reopened, "am-li"),
            (TaskState::Verified, "sup-wang")
        ]
    );
    // The index follows the version every device shows.
    let listed = am.open_tasks("am-li", t("2026-11-23T10:00:00+08:00"))?;
    assert_eq!(
        listed.len(),
        usize::from(*a.state.value() != TaskState::Verified)
    );
    Ok(())
}

#[test]
fn a_forged_change_that_wins_the_merge_cannot_hide_a_reopen_the_reviewers_decision_is_shown()
-> fieldsync_core::Result<()> {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, AutoCommit, ROOT, ScalarValue};

    let dir = tempfile::tempdir()?;
    let (am, _) = open(&dir, "am-li");
    let (sup, sup_clock) = open(&dir, "sup-wang");
    let store = sup.create_store(sample_store("am-li", 1))?;
    let id = sup.create_task(new_task(&store, "fix tags", "2026-11-30T18:00:00+08:00"))?;
    send(&sup, &am, &id)?;
    am.move_task(&id, TaskState::InProgress, None)?;
    am.add_task_photo(&id, PHOTO, "after")?;
    // The version the assignee's forged change goes back to: in progress, with the photo.
    let in_progress = am.export_changes(&id, &[])?;
    am.move_task(&id, TaskState::Submitted, None)?;
    send(&am, &sup, &id)?;
    sup_clock.advance_minutes(10);
    sup.move_task(
        &id,
        TaskState::Reopened,
        Some("the photo does not show the tags"),
    )?;

    // Under a new actor, "submitted" again, written 300 times (each with its own time) so
    // that the change's operation counter beats the reopen's in Automerge's merge.
    let mut forged = AutoCommit::new();
    forged.apply_changes(
        in_progress
            .iter()
            .map(|c| automerge::Change::try_from(c.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fieldsync_core::Error::invalid("change", e.to_string()))?,
    )?;
    forged.set_actor(ActorId::random());
    let base = t("2026-11-23T09:30:00+08:00").0;
    for n in 0..300 {
        let entry = format!(r#"{{"v":"submitted","by":"am-li","at":{}}}"#, base + n);
        forged.put(ROOT, "state", ScalarValue::Str(entry.as_str().into()))?;
    }
    forged.commit_with(
        CommitOptions::default()
            .with_message(r#"{"by":"am-li","what":"move to submitted"}"#.to_owned())
            .with_time(base + 300),
    );
    let change = forged
        .get_last_local_change()
        .ok_or_else(|| fieldsync_core::Error::invalid("change", "none made"))?
        .raw_bytes()
        .to_vec();
    let mut raw = AutoCommit::new();
    raw.apply_changes(
        sup.export_changes(&id, &[])?
            .iter()
            .chain(std::iter::once(&change))
            .map(|c| automerge::Change::try_from(c.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fieldsync_core::Error::invalid("change", e.to_string()))?,
    )?;
    let winner = automerge::ReadDoc::get(&raw, ROOT, "state")?
        .and_then(|(v, _)| v.into_scalar().ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(
        winner.contains("submitted"),
        "the forged change wins Automerge's merge: {winner}"
    );

    sup.merge_changes(&id, &[change])?;
    let task = sup.task(&id)?;
    assert!(task.state.is_conflict(), "both versions are kept and shown");
    assert_eq!(
        (*task.state.value(), task.state.current.by.as_str()),
        (TaskState::Reopened, "sup-wang"),
        "the reviewer's decision is the state shown"
    );
    assert_eq!(
        task.state_note.as_deref(),
        Some("the photo does not show the tags")
    );
    let open = sup.open_tasks("am-li", t("2026-11-23T12:00:00+08:00"))?;
    assert_eq!(
        open.iter().map(|o| o.state).collect::<Vec<_>>(),
        vec![TaskState::Reopened],
        "the index shows it too"
    );
    Ok(())
}
