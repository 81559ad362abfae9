//! The rectification task (限期整改, R7 and findings of checks): what a store must put right,
//! who follows it up, by when, and the photos that show it was done.
//!
//! Its state moves open → in_progress → submitted → verified, or submitted → reopened →
//! in_progress again; every other move is refused with [`Error::IllegalTransition`] and
//! nothing is written. Submitting needs at least one after photo, and the assignee does not
//! verify their own task. The state is stamped, so two people moving it concurrently
//! offline show as a conflict. [`LocalStore::open_tasks`] answers from the index alone.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{
    DOC_ROOT, Doc, HydrateValue, Scalar, Stamp, Versions, Written, entry_value, str_value,
    text_value,
};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::store::TerminalRating;
use crate::kinds::visit::{PhotoRef, validate_photo_hash};
use crate::store::LocalStore;
use crate::store::retail_stores::{store_facts, store_rating};
use crate::store::visits::check_doc_of_store;
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

/// One line of [`LocalStore::open_tasks`].
#[derive(Clone, Debug, PartialEq)]
pub struct TaskDue {
    pub id: DocId,
    pub store_id: DocId,
    pub title: String,
    pub state: TaskState,
    pub deadline: Timestamp,
    /// Past its deadline (a deadline equal to `as_of` is not overdue yet).
    pub overdue: bool,
}

impl LocalStore {
    /// Opens a rectification task, found by this device's user. Refuses an unknown store,
    /// an origin that is not a visit or shelf display of that store (or, for a rating, not
    /// the store's current unqualified rating), an empty title or assignee, and a deadline
    /// not after now.
    pub fn create_task(&self, new: NewTask) -> Result<DocId> {
        if new.title.trim().is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        if new.assignee.trim().is_empty() {
            return Err(Error::invalid("assignee", "must not be empty"));
        }
        self.create_doc(DocKind::Task, |conn, stamp| {
            store_facts(conn, "store_id", &new.store_id)?;
            if new.deadline <= stamp.at {
                return Err(Error::invalid(
                    "deadline",
                    format!(
                        "`{}` is not after the creation time `{}`",
                        new.deadline.0, stamp.at.0
                    ),
                ));
            }
            let mut fields: HashMap<&'static str, HydrateValue> = HashMap::from([
                ("store_id", str_value(new.store_id.as_str())),
                ("title", str_value(new.title.trim())),
                ("description", text_value(&new.description)),
                ("assignee", str_value(new.assignee.trim())),
                ("deadline", HydrateValue::from(new.deadline.0)),
                ("created_by", str_value(&stamp.by)),
                ("created_at", HydrateValue::from(stamp.at.0)),
                ("state", state_entry(TaskState::Open, None, stamp)),
                ("photos", HydrateValue::map()),
            ]);
            let found_in = match &new.origin {
                None => None,
                Some(TaskOrigin::Visit(id)) => Some((DocKind::Visit, id)),
                Some(TaskOrigin::ShelfDisplay(id)) => Some((DocKind::ShelfDisplay, id)),
                Some(TaskOrigin::Rating { rated_at }) => {
                    check_unqualified_rating(conn, &new.store_id, *rated_at)?;
                    fields.insert("answers_rating_at", HydrateValue::from(rated_at.0));
                    None
                }
            };
            if let Some((kind, id)) = found_in {
                check_doc_of_store(conn, "origin", id, kind, &new.store_id)?;
                fields.insert("origin_kind", str_value(kind.as_str()));
                fields.insert("origin_id", str_value(id.as_str()));
            }
            Ok(fields)
        })
    }

    /// Reads a task.
    pub fn task(&self, id: &DocId) -> Result<Task> {
        self.read_doc(id, DocKind::Task, read)
    }

    /// Moves a task to `to` with an optional note. A move the state machine does not allow
    /// is an [`Error::IllegalTransition`]; submitting needs an after photo; reopening needs
    /// a note saying why; the assignee cannot verify their own task.
    pub fn move_task(&self, id: &DocId, to: TaskState, note: Option<&str>) -> Result<()> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let what = format!("move to {}", to.code());
        self.edit_doc(id, DocKind::Task, &what, |doc, stamp, _| {
            let task = read(doc)?;
            let from = *task.state.value();
            if !from.can_move_to(to) {
                return Err(Error::IllegalTransition {
                    kind: DocKind::Task,
                    id: id.to_string(),
                    from: from.code().to_owned(),
                    to: to.code().to_owned(),
                });
            }
            match to {
                TaskState::Submitted if task.after_photos.is_empty() => {
                    return Err(Error::invalid(
                        "after_photos",
                        "submitting needs at least one after photo",
                    ));
                }
                TaskState::Reopened if note.is_none() => {
                    return Err(Error::invalid("note", "say why the task is reopened"));
                }
                TaskState::Verified if stamp.by == task.assignee => {
                    return Err(Error::invalid(
                        "state",
                        format!("the assignee `{}` cannot verify their own task", stamp.by),
                    ));
                }
                _ => {}
            }
            doc.put_value(&DOC_ROOT, "state", &state_entry(to, note, stamp))
        })
    }

    /// Adds an after photo by content hash (`sha256:<64 hex>`), while the task is being
    /// worked on (not once it is submitted or verified).
    pub fn add_task_photo(&self, id: &DocId, hash: &str, caption: &str) -> Result<()> {
        validate_photo_hash(hash)?;
        self.edit_doc(id, DocKind::Task, "add after photo", |doc, stamp, _| {
            let state = *read(doc)?.state.value();
            if matches!(state, TaskState::Submitted | TaskState::Verified) {
                return Err(Error::invalid(
                    "photo",
                    format!("a `{}` task takes no more photos", state.code()),
                ));
            }
            let photos = doc.container(&DOC_ROOT, "photos")?;
            let entry = entry_value(vec![("caption", caption.into())], stamp);
            doc.put_value(&photos, hash, &entry)
        })
    }

    /// Tasks of `assignee` that are not verified, soonest deadline first, each marked
    /// overdue when its deadline is before `as_of`. Reads the index only.
    pub fn open_tasks(&self, assignee: &str, as_of: Timestamp) -> Result<Vec<TaskDue>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id, store_id, title, state, deadline FROM task_index
             WHERE assignee = ?1 AND state != 'verified' ORDER BY deadline, id",
        )?;
        let rows = stmt
            .query_map([assignee], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, store_id, title, state, deadline)| {
                Ok(TaskDue {
                    id: DocId::parse("id", &id)?,
                    store_id: DocId::parse("store_id", &store_id)?,
                    title,
                    state: TaskState::parse(&state)?,
                    deadline: Timestamp(deadline),
                    overdue: as_of.0 > deadline,
                })
            })
            .collect()
    }
}

fn state_entry(state: TaskState, note: Option<&str>, stamp: &Stamp) -> HydrateValue {
    let note = note.map_or(Scalar::Null, |n| Scalar::Str(n.into()));
    entry_value(vec![("v", state.code().into()), ("note", note)], stamp)
}

/// Refuses a rating origin unless the store's current rating is unqualified and was given
/// at `rated_at`: a notice answers the rating it names, not an earlier or a better one.
fn check_unqualified_rating(conn: &Connection, store: &DocId, rated_at: Timestamp) -> Result<()> {
    match store_rating(conn, "store_id", store)? {
        Some((TerminalRating::Unqualified, at)) if at == rated_at => Ok(()),
        Some((TerminalRating::Unqualified, at)) => Err(Error::invalid(
            "origin.rated_at",
            format!(
                "store `{store}` was rated unqualified at `{}`, not at `{}`",
                at.0, rated_at.0
            ),
        )),
        Some((other, _)) => Err(Error::invalid(
            "origin",
            format!(
                "store `{store}` is rated `{}`: only an unqualified rating asks for a \
                 rectification notice",
                other.code()
            ),
        )),
        None => Err(Error::invalid(
            "origin",
            format!("store `{store}` has no quarterly rating"),
        )),
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
    let written = |w: &Written<crate::doc::Fields>| {
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
    let state = Versions {
        current: written(&entries.current)?,
        others: entries.others.iter().map(written).collect::<Result<_>>()?,
    };
    let state_note = entries.current.value.str("note");
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

pub(crate) fn index(tx: &Connection, doc: &Doc) -> Result<()> {
    let task = read(doc)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO task_index (id, store_id, title, assignee, state, deadline, created_at,
         answers_rating_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        task.id.as_str(),
        task.store_id.as_str(),
        task.title,
        task.assignee,
        task.state.value().code(),
        task.deadline.0,
        task.created_at.0,
        match task.origin {
            Some(TaskOrigin::Rating { rated_at }) => Some(rated_at.0),
            _ => None,
        },
    ])?;
    Ok(())
}
