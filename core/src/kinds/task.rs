//! The rectification task document's schema, value rules and state machine: who may move
//! it where (the phone's `move_task` and the server judge moves by [`check_move`]).

use super::shape::{Field, Ty, opt, req};
use super::visit::{MAX_NOTE, MAX_TEXT, PHOTO};
use crate::doc::Doc;
use crate::kinds::RuleViolation;
use crate::store::tasks::{Task, TaskState};

pub(crate) const STATES: &[&str] = &["open", "in_progress", "submitted", "verified", "reopened"];

/// Every field of a task document.
pub(crate) const FIELDS: &[Field] = &[
    req("store_id", Ty::Id),
    req("title", Ty::Str { min: 1, max: 200 }),
    opt("description", Ty::Text { max: MAX_TEXT }),
    req("assignee", Ty::User),
    req("deadline", Ty::Time),
    req("created_by", Ty::User),
    req("created_at", Ty::Time),
    req(
        "state",
        Ty::Entry(&[
            req("v", Ty::Code(STATES)),
            opt(
                "note",
                Ty::Str {
                    min: 0,
                    max: MAX_NOTE,
                },
            ),
        ]),
    ),
    opt("photos", PHOTO),
    opt("origin_kind", Ty::Code(&["visit", "shelf_display"])),
    opt("origin_id", Ty::Id),
    opt("answers_rating_at", Ty::Time),
];

/// The deadline follows creation; an origin names its kind and id together; a notice
/// answers a rating given before it and has no other origin; a new task starts open,
/// stamped by its creator.
pub(crate) fn rules(doc: &Doc) -> Result<(), RuleViolation> {
    let task = crate::store::tasks::read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
    if task.deadline <= task.created_at {
        return Err(RuleViolation::at(
            "value",
            "deadline",
            format!(
                "`{}` is not after the creation time `{}`",
                task.deadline.0, task.created_at.0
            ),
        ));
    }
    let root = &crate::doc::DOC_ROOT;
    if doc.scalar(root, "origin_kind").is_some() != doc.scalar(root, "origin_id").is_some() {
        return Err(RuleViolation::at(
            "value",
            "origin_id",
            "`origin_kind` and `origin_id` are given together",
        ));
    }
    if let Some(rated_at) = doc.time(root, "answers_rating_at") {
        if doc.scalar(root, "origin_kind").is_some() {
            return Err(RuleViolation::at(
                "value",
                "answers_rating_at",
                "a task answers a rating or comes from a visit or display, not both",
            ));
        }
        if rated_at > task.created_at {
            return Err(RuleViolation::at(
                "value",
                "answers_rating_at",
                format!(
                    "`{}` is after the task's creation `{}`: a notice answers a rating given before it",
                    rated_at.0, task.created_at.0
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `by` may move `task` (as it was when the move was made) from `from` to `to`:
/// the state machine, the assignee works the task and submits it with an after photo,
/// someone else verifies or reopens it, and a reopening says why.
pub(crate) fn check_move(
    task: &Task,
    from: TaskState,
    to: TaskState,
    by: &str,
    note: Option<&str>,
) -> Result<(), RuleViolation> {
    let refuse = |reason: String| Err(RuleViolation::at("transition", "state", reason));
    if !from.can_move_to(to) {
        return refuse(format!(
            "a task cannot move from `{}` to `{}`",
            from.code(),
            to.code()
        ));
    }
    let assignee = by == task.assignee;
    match to {
        TaskState::InProgress | TaskState::Submitted if !assignee => refuse(format!(
            "only the assignee `{}` moves the task to `{}`",
            task.assignee,
            to.code()
        )),
        TaskState::Submitted if task.after_photos.is_empty() => Err(RuleViolation::at(
            "transition",
            "after_photos",
            "submitting needs at least one after photo",
        )),
        TaskState::Verified | TaskState::Reopened if assignee => refuse(format!(
            "the assignee `{by}` cannot {} their own task",
            if to == TaskState::Verified {
                "verify"
            } else {
                "reopen"
            }
        )),
        TaskState::Reopened if note.is_none_or(|n| n.trim().is_empty()) => Err(RuleViolation::at(
            "transition",
            "state.note",
            "say why the task is reopened",
        )),
        _ => Ok(()),
    }
}
