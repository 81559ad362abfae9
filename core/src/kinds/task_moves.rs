//! A task's state changes, judged on the task as each change found it: every state a
//! change writes must be a legal move for its author from a state the task was in there
//! (`kinds/clock.rs` finds the writes; ADR 0032 for the moves).

use automerge::Change;

use super::RuleViolation;
use super::clock::Sender;
use crate::doc::{Doc, Fields};
use crate::kinds::task::TaskState;

/// Each state a change writes must be a legal move, for its author, from a state the
/// task was in where the change was made (a new task starts `open`).
pub(crate) fn check(
    doc: &mut Doc,
    change: &Change,
    writes: &[Fields],
    sender: &Sender<'_>,
) -> Result<(), RuleViolation> {
    let transition = |reason: String| RuleViolation::at("transition", "state", reason);
    if change.deps().is_empty() {
        let all_open = writes
            .iter()
            .all(|w| w.str("v").as_deref() == Some(TaskState::Open.code()));
        return if all_open {
            Ok(())
        } else {
            Err(transition("a new task starts `open`".into()))
        };
    }
    let before = doc
        .fork_at(change.deps())
        .map_err(|e| RuleViolation::unreadable(&e))?;
    let after = doc
        .fork_at(&[change.hash()])
        .map_err(|e| RuleViolation::unreadable(&e))?;
    let task_before =
        crate::kinds::task::read(&before).map_err(|e| RuleViolation::unreadable(&e))?;
    let task_after = crate::kinds::task::read(&after).map_err(|e| RuleViolation::unreadable(&e))?;
    for write in writes {
        let to = write
            .str("v")
            .and_then(|v| TaskState::parse(&v).ok())
            .ok_or_else(|| transition("the new state is not a task state".into()))?;
        let note = write.str("note");
        let mut last = None;
        let legal = task_before.state.all().any(|from| {
            let verdict =
                super::check_task_move(&task_after, from.value, to, sender.user, note.as_deref());
            let ok = verdict.is_ok();
            last = verdict.err();
            ok
        });
        if !legal {
            return Err(last.unwrap_or_else(|| transition("an illegal move".into())));
        }
    }
    Ok(())
}
