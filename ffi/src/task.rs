//! Rectification tasks (限期整改) across the boundary: open one from a finding, move it
//! through its states, add after photos, read it back, and list a person's open tasks by
//! deadline.
//!
//! The state machine is the core's: open → in progress → submitted → verified, or
//! submitted → reopened → in progress. A move it does not allow is `FieldError::Rejected`
//! (Kotlin `FieldException.Rejected`) naming both states; the other refusals (no after
//! photo, no reason to reopen, the assignee verifying their own task) are `InvalidInput`.

use fieldsync_core as fc;

use crate::conflict::TaskStateVersions;
use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;
use crate::visit::PhotoRecord;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TaskState {
    Open,
    InProgress,
    /// Done, with after photos, waiting for verification.
    Submitted,
    Verified,
    /// Verification found it not done: back to work.
    Reopened,
}

/// The finding a task came from: a visit or a shelf display of the same store, or (R7)
/// the store's unqualified quarterly rating.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TaskOrigin {
    Visit {
        id: String,
    },
    ShelfDisplay {
        id: String,
    },
    /// The rectification notice of a terminal rated unqualified: `rated_at` is the
    /// store's `rated_at`, the rating it answers. Only such a task counts as R7's notice.
    Rating {
        rated_at: Instant,
    },
}

/// What the finder gives to open a task.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewTaskRecord {
    pub store_id: String,
    pub title: String,
    pub description: String,
    /// Who follows it up (usually the store's account manager).
    pub assignee: String,
    /// After now.
    pub deadline: Instant,
    pub origin: Option<TaskOrigin>,
}

/// A task as read back.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TaskRecord {
    pub id: String,
    pub store_id: String,
    pub title: String,
    pub description: String,
    pub assignee: String,
    pub deadline: Instant,
    pub origin: Option<TaskOrigin>,
    pub created_by: String,
    pub created_at: Instant,
    /// The state, with concurrent moves when two people moved it offline.
    pub state: TaskStateVersions,
    /// The note given with the current state (why it was reopened, say).
    pub state_note: Option<String>,
    /// After photos, oldest first.
    pub after_photos: Vec<PhotoRecord>,
}

/// A task that is not verified yet, with its deadline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskDueRecord {
    pub id: String,
    pub store_id: String,
    pub title: String,
    pub state: TaskState,
    pub deadline: Instant,
    /// Past its deadline (a deadline equal to `as_of` is not overdue yet).
    pub overdue: bool,
}

#[uniffi::export]
impl FieldStore {
    /// Opens a rectification task; returns its id. Refuses an unknown store, an origin of
    /// another store (or a rating that is not the store's current unqualified one), an
    /// empty title or assignee, and a deadline not after now.
    pub fn create_task(&self, task: NewTaskRecord) -> Result<String, FieldError> {
        let origin = match task.origin {
            None => None,
            Some(TaskOrigin::Visit { id }) => {
                Some(fc::TaskOrigin::Visit(parse::id("origin", &id)?))
            }
            Some(TaskOrigin::ShelfDisplay { id }) => {
                Some(fc::TaskOrigin::ShelfDisplay(parse::id("origin", &id)?))
            }
            Some(TaskOrigin::Rating { rated_at }) => Some(fc::TaskOrigin::Rating {
                rated_at: rated_at.timestamp("origin.rated_at")?,
            }),
        };
        let new = fc::NewTask {
            store_id: parse::id("store_id", &task.store_id)?,
            title: task.title,
            description: task.description,
            assignee: task.assignee,
            deadline: task.deadline.timestamp("deadline")?,
            origin,
        };
        self.create(|s| s.create_task(new))
    }

    pub fn task(&self, id: String) -> Result<TaskRecord, FieldError> {
        let task = self.core.task(&parse::id("id", &id)?)?;
        Ok(task.into())
    }

    /// Moves a task to `to`, with a note (required to reopen). A move the state machine
    /// does not allow is `Rejected`; submitting needs an after photo; the assignee does not
    /// verify their own task.
    pub fn move_task(
        &self,
        id: String,
        to: TaskState,
        note: Option<String>,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.move_task(&doc, to.into(), note.as_deref()))
    }

    /// Adds an after photo by content hash (`sha256:` + 64 hex digits) while the task is
    /// worked on (not once submitted or verified).
    pub fn add_task_photo(
        &self,
        id: String,
        hash: String,
        caption: String,
    ) -> Result<(), FieldError> {
        let doc = parse::id("id", &id)?;
        self.write(&[&id], |s| s.add_task_photo(&doc, &hash, &caption))
    }

    /// Tasks of `assignee` that are not verified, soonest deadline first, each marked
    /// overdue when its deadline is before `as_of` (null: now).
    pub fn open_tasks(
        &self,
        assignee: String,
        as_of: Option<Instant>,
    ) -> Result<Vec<TaskDueRecord>, FieldError> {
        let as_of = parse::as_of(&self.core, "as_of", as_of)?;
        let due = self.core.open_tasks(&assignee, as_of)?;
        Ok(due
            .into_iter()
            .map(|t| TaskDueRecord {
                id: t.id.to_string(),
                store_id: t.store_id.to_string(),
                title: t.title,
                state: t.state.into(),
                deadline: Instant::from(t.deadline),
                overdue: t.overdue,
            })
            .collect())
    }
}

same_variants!(
    TaskState,
    fc::TaskState,
    Open,
    InProgress,
    Submitted,
    Verified,
    Reopened,
);

impl From<fc::TaskOrigin> for TaskOrigin {
    fn from(o: fc::TaskOrigin) -> Self {
        match o {
            fc::TaskOrigin::Visit(id) => TaskOrigin::Visit { id: id.to_string() },
            fc::TaskOrigin::ShelfDisplay(id) => TaskOrigin::ShelfDisplay { id: id.to_string() },
            fc::TaskOrigin::Rating { rated_at } => TaskOrigin::Rating {
                rated_at: Instant::from(rated_at),
            },
        }
    }
}

impl From<fc::Task> for TaskRecord {
    fn from(t: fc::Task) -> Self {
        TaskRecord {
            id: t.id.to_string(),
            store_id: t.store_id.to_string(),
            title: t.title,
            description: t.description,
            assignee: t.assignee,
            deadline: Instant::from(t.deadline),
            origin: t.origin.map(Into::into),
            created_by: t.created_by,
            created_at: Instant::from(t.created_at),
            state: t.state.into(),
            state_note: t.state_note,
            after_photos: t.after_photos.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{HOUR_MS, MONDAY_10, ms, new_store, phone};

    const PHOTO: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// A supervisor's phone with a store of `am-li` and a task for `am-li` due in 48 hours.
    fn task_for_am_li() -> (crate::test_support::Phone, String) {
        let sup = phone("sup-zhao", MONDAY_10);
        let shop = sup
            .store
            .create_store(new_store("330100000011", "am-li"))
            .expect("store");
        let id = sup
            .store
            .create_task(NewTaskRecord {
                store_id: shop,
                title: "replace the faded price-tag box".into(),
                description: String::new(),
                assignee: "am-li".into(),
                deadline: ms(MONDAY_10) + 48 * HOUR_MS,
                origin: None,
            })
            .expect("task");
        (sup, id)
    }

    #[test]
    fn a_task_moves_through_its_states_and_is_overdue_only_after_its_deadline() {
        let (sup, id) = task_for_am_li();
        let s = &sup.store;
        s.move_task(id.clone(), TaskState::InProgress, None)
            .expect("start");
        s.add_task_photo(id.clone(), PHOTO.into(), "new box".into())
            .expect("photo");
        s.move_task(id.clone(), TaskState::Submitted, None)
            .expect("submit");
        s.move_task(
            id.clone(),
            TaskState::Reopened,
            Some("box still faded".into()),
        )
        .expect("reopen");
        let task = s.task(id.clone()).expect("read back");
        assert_eq!(task.state.current.value, TaskState::Reopened);
        assert_eq!(task.state_note.as_deref(), Some("box still faded"));
        assert_eq!(task.after_photos.len(), 1);

        let deadline = ms(MONDAY_10) + 48 * HOUR_MS;
        let due = s.open_tasks("am-li".into(), Some(deadline)).expect("due");
        assert_eq!((due.len(), due[0].overdue), (1, false));
        let late = s
            .open_tasks("am-li".into(), Some(deadline + 1))
            .expect("late");
        assert_eq!(
            (late[0].state, late[0].overdue),
            (TaskState::Reopened, true)
        );
    }

    #[test]
    fn illegal_task_transition_is_a_typed_rejected_error_naming_both_states() {
        let (sup, id) = task_for_am_li();
        let refused = sup.store.move_task(id.clone(), TaskState::Verified, None);
        match refused {
            Err(FieldError::Rejected { detail }) => {
                assert!(detail.contains("`open` to `verified`"), "{detail}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        let task = sup.store.task(id).expect("read back");
        assert_eq!(task.state.current.value, TaskState::Open, "nothing written");
    }

    #[test]
    fn submitting_without_an_after_photo_is_invalid_input_naming_the_photos() {
        let (sup, id) = task_for_am_li();
        sup.store
            .move_task(id.clone(), TaskState::InProgress, None)
            .expect("start");
        match sup.store.move_task(id, TaskState::Submitted, None) {
            Err(FieldError::InvalidInput { field, .. }) => assert_eq!(field, "after_photos"),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn a_task_origin_that_is_not_an_id_is_invalid_input_naming_the_origin() {
        let sup = phone("sup-zhao", MONDAY_10);
        let shop = sup
            .store
            .create_store(new_store("330100000012", "am-li"))
            .expect("store");
        let refused = sup.store.create_task(NewTaskRecord {
            store_id: shop,
            title: "fix the storefront light".into(),
            description: String::new(),
            assignee: "am-li".into(),
            deadline: ms(MONDAY_10) + HOUR_MS,
            origin: Some(TaskOrigin::Visit {
                id: "visit 12".into(),
            }),
        });
        match refused {
            Err(FieldError::InvalidInput { field, .. }) => assert_eq!(field, "origin"),
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}
