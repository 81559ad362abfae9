//! The rectification task document (限期整改, R7 and findings of checks): what a store must
//! put right, who follows it up, by when, and the photos that show it was done; its schema,
//! value rules, typed form, reader ([`read`]) and state machine: who may move it where (the
//! phone's `move_task` and the server judge moves by [`check_move`]).
//!
//! Its state moves open → in_progress → submitted → verified, or submitted → reopened →
//! in_progress again. Submitting needs at least one after photo, and the assignee does not
//! verify their own task. The state is stamped, so two people moving it concurrently
//! offline show as a conflict.

use super::shape::{Field, Ty, opt, req};
use super::visit::{MAX_NOTE, MAX_TEXT, PHOTO, PhotoRef};
use crate::doc::{DOC_ROOT, Doc, Versions, Written};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::RuleViolation;
use crate::time::Timestamp;

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    Open,
    InProgress,
    /// Done, with after photos, waiting for verification.
    Submitted,
    Verified,
    /// Verification found it not done; back to work.
    Reopened,
}

impl TaskState {
    pub const ALL: [TaskState; 5] = [
        TaskState::Open,
        TaskState::InProgress,
        TaskState::Submitted,
        TaskState::Verified,
        TaskState::Reopened,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::InProgress => "in_progress",
            TaskState::Submitted => "submitted",
            TaskState::Verified => "verified",
            TaskState::Reopened => "reopened",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.code() == text)
            .ok_or_else(|| Error::invalid("state", format!("unknown task state `{text}`")))
    }

    /// Which of concurrent states a task shows (lower first): a reviewer's decision
    /// (`reopened`, then `verified`) over the assignee's moves (`submitted`, `in_progress`),
    /// over `open`. Concurrent writes of `state` are rare and honest ones are all kept;
    /// the one shown must not be the one whose change carried the higher operation counter,
    /// which a device chooses.
    pub fn precedence(self) -> u8 {
        match self {
            TaskState::Reopened => 0,
            TaskState::Verified => 1,
            TaskState::Submitted => 2,
            TaskState::InProgress => 3,
            TaskState::Open => 4,
        }
    }

    /// Whether the state machine allows moving from `self` to `to`.
    pub fn can_move_to(self, to: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Open, InProgress)
                | (InProgress, Submitted)
                | (Submitted, Verified)
                | (Submitted, Reopened)
                | (Reopened, InProgress)
        )
    }
}

/// The finding a task came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOrigin {
    Visit(DocId),
    ShelfDisplay(DocId),
    /// R7's rectification notice (限期整改通知) of a functional terminal rated unqualified:
    /// it answers the rating given at `rated_at` (the store's [`crate::Store::rated_at`]).
    /// Stored as the task's `answers_rating_at`; only such a task, with a deadline, created
    /// in the quarter, counts as the notice R7 asks for.
    Rating {
        rated_at: Timestamp,
    },
}

/// What the finder gives to open a task.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTask {
    pub store_id: DocId,
    pub title: String,
    pub description: String,
    /// Who follows it up (usually the store's account manager).
    pub assignee: String,
    /// Must be after the time of creation.
    pub deadline: Timestamp,
    /// A visit or shelf display of the same store, or the store's unqualified rating.
    pub origin: Option<TaskOrigin>,
}

/// A task as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: DocId,
    pub store_id: DocId,
    pub title: String,
    pub description: String,
    pub assignee: String,
    pub deadline: Timestamp,
    pub origin: Option<TaskOrigin>,
    pub created_by: String,
    pub created_at: Timestamp,
    /// Several values when people moved it concurrently.
    pub state: Versions<TaskState>,
    /// The note given with the current state (why it was reopened, say).
    pub state_note: Option<String>,
    /// After photos, oldest first.
    pub after_photos: Vec<PhotoRef>,
}

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
    let task = read(doc).map_err(|e| RuleViolation::unreadable(&e))?;
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

fn read_origin(doc: &Doc) -> Result<Option<TaskOrigin>> {
    // A notice answering a rating names it in a field of its own, which readers that
    // predate it ignore (they see a task without an origin).
    if let Some(rated_at) = doc.time(&DOC_ROOT, "answers_rating_at") {
        return Ok(Some(TaskOrigin::Rating { rated_at }));
    }
    let (Some(kind), Some(id)) = (
        doc.str(&DOC_ROOT, "origin_kind"),
        doc.str(&DOC_ROOT, "origin_id"),
    ) else {
        return Ok(None);
    };
    let id = DocId::parse("origin_id", &id)?;
    match DocKind::parse(&kind)? {
        DocKind::Visit => Ok(Some(TaskOrigin::Visit(id))),
        DocKind::ShelfDisplay => Ok(Some(TaskOrigin::ShelfDisplay(id))),
        other => Err(doc.missing(&format!("origin_kind (`{other}`)"))),
    }
}

pub(crate) fn read(doc: &Doc) -> Result<Task> {
    let entries = doc
        .entries(&DOC_ROOT, "state")
        .ok_or_else(|| doc.missing("state"))?;
    let written = |w: &Written<crate::doc::Fields>| -> Result<Written<TaskState>> {
        let value = w
            .value
            .str("v")
            .and_then(|code| TaskState::parse(&code).ok())
            .ok_or_else(|| doc.missing("state.v"))?;
        Ok(Written {
            value,
            by: w.by.clone(),
            at: w.at,
        })
    };
    // Every version with its note, Automerge's winner first; the state shown is the first
    // by precedence (docs/adr/0032): a reviewer's decision over the assignee's own moves
    // made without seeing it, whatever operation counter each change carries.
    let mut versions: Vec<(Written<TaskState>, Option<String>)> = std::iter::once(&entries.current)
        .chain(entries.others.iter())
        .map(|w| Ok((written(w)?, w.value.str("note"))))
        .collect::<Result<_>>()?;
    let shown = versions
        .iter()
        .enumerate()
        .min_by_key(|(i, (w, _))| (w.value.precedence(), *i))
        .map_or(0, |(i, _)| i);
    let (current, state_note) = versions.remove(shown);
    let state = Versions {
        current,
        others: versions.into_iter().map(|(w, _)| w).collect(),
    };
    let after_photos = crate::kinds::visit::read_photos(doc, "photos");
    Ok(Task {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?,
        title: doc.req_str(&DOC_ROOT, "title")?,
        description: doc.text(&DOC_ROOT, "description").unwrap_or_default(),
        assignee: doc.req_str(&DOC_ROOT, "assignee")?,
        deadline: doc
            .time(&DOC_ROOT, "deadline")
            .ok_or_else(|| doc.missing("deadline"))?,
        origin: read_origin(doc)?,
        created_by: doc.req_str(&DOC_ROOT, "created_by")?,
        created_at: doc
            .time(&DOC_ROOT, "created_at")
            .ok_or_else(|| doc.missing("created_at"))?,
        state,
        state_note,
        after_photos,
    })
}
