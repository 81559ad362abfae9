//! The typed API of rectification tasks and their index row: opening a task (from a
//! finding, or as R7's notice answering a rating), moving it, after photos, and
//! `task_index` ([`LocalStore::open_tasks`] answers from the index alone). A move the state
//! machine does not allow is an [`Error::IllegalTransition`] and nothing is written. The
//! document itself is defined in `crate::kinds::task`.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, Scalar, Stamp, entry_value, str_value, text_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::store::TerminalRating;
use crate::kinds::task::{NewTask, Task, TaskOrigin, TaskState, read};
use crate::kinds::visit::validate_photo_hash;
use crate::store::LocalStore;
use crate::store::retail_stores::{store_facts, store_rating};
use crate::store::visits::check_doc_of_store;
use crate::time::Timestamp;

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

    /// Adds an after photo by content hash (`sha256:<64 hex>`), or gives the photo
    /// referenced already a new caption (keeping what `add_photo` recorded of it), while
    /// the task is being worked on (not once it is submitted or verified).
    pub fn add_task_photo(&self, id: &DocId, hash: &str, caption: &str) -> Result<()> {
        validate_photo_hash(hash)?;
        self.add_task_photo_entry(id, hash, vec![("caption", caption.into())], true)
    }

    /// Writes an after photo's entry with these fields (see `store/photos.rs`); `keep`:
    /// the fields of the entry there now that these do not name stay.
    pub(crate) fn add_task_photo_entry(
        &self,
        id: &DocId,
        hash: &str,
        fields: Vec<(&str, automerge::ScalarValue)>,
        keep: bool,
    ) -> Result<()> {
        self.edit_doc(id, DocKind::Task, "add after photo", |doc, stamp, _| {
            let state = *read(doc)?.state.value();
            if matches!(state, TaskState::Submitted | TaskState::Verified) {
                return Err(Error::invalid(
                    "photo",
                    format!("a `{}` task takes no more photos", state.code()),
                ));
            }
            let photos = doc.container(&DOC_ROOT, "photos")?;
            if keep {
                return doc.put_entry_keeping(&photos, hash, fields, stamp);
            }
            doc.put_value(&photos, hash, &entry_value(fields, stamp))
        })
    }

    /// Tasks of `assignee` created by `as_of` that are not verified, soonest deadline
    /// first, each marked overdue when its deadline is before `as_of`. A creation stamp
    /// up to the clock drift a server accepts past `as_of` counts as before it (a creator's
    /// clock running ahead must not hide a task from today's list). Reads the index only,
    /// so states are today's: for a past `as_of`, a task verified since is left out.
    pub fn open_tasks(&self, assignee: &str, as_of: Timestamp) -> Result<Vec<TaskDue>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id, store_id, title, state, deadline FROM task_index
             WHERE assignee = ?1 AND state != 'verified' AND created_at <= ?2
             ORDER BY deadline, id",
        )?;
        let rows = stmt
            .query_map(
                params![
                    assignee,
                    as_of.0.saturating_add(crate::kinds::MAX_CLOCK_DRIFT_MS)
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )?
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
