//! A change overwrites only what it had seen. Automerge lets an operation name, as the
//! values it overwrites, operations of changes its own dependencies do not reach (a side
//! branch, a change of the same push it does not build on, for a change without
//! dependencies anything stored), and applies it. Every rule judged change by change
//! reads the document as the change found it, so such an operation could rewrite a fixed
//! field, a personal entry or a task's state unseen by them, and Automerge's own reading
//! of the document at such a change's heads fails (a panic, answered 500). No Automerge
//! client writes such a change: it is refused.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash, ObjId};

use super::RuleViolation;
use crate::doc::Doc;

/// An operation a change names as overwritten, made by another change: (counter, actor).
pub(crate) type Named = (u64, automerge::ActorId);

/// The predecessors of `op`, the `n`th operation of `change`, other than earlier
/// operations of the same change.
pub(crate) fn named_elsewhere(
    change: &Change,
    n: u64,
    op: &automerge::legacy::Op,
    out: &mut Vec<Named>,
) {
    let start = change.start_op().get();
    for pred in op.pred.iter() {
        let own = pred.actor() == change.actor_id()
            && (start..start.saturating_add(n)).contains(&pred.counter());
        if !own {
            out.push((pred.counter(), pred.actor().clone()));
        }
    }
}

/// Refuses `change` if it numbers its operations from a counter not above the last
/// operation of every change it builds on (`built_on`: time and last operation by hash),
/// as every Automerge client numbers them: numbered lower, its operations could pass for
/// operations of the history it names as overwritten.
pub(crate) fn numbered_after(
    change: &Change,
    built_on: &HashMap<ChangeHash, (i64, u64)>,
) -> Result<(), RuleViolation> {
    let start = change.start_op().get();
    let last = change
        .deps()
        .iter()
        .filter_map(|d| built_on.get(d).map(|(_, max_op)| *max_op))
        .max();
    match last {
        Some(last) if start <= last => Err(RuleViolation::at(
            "transition",
            "change.ops",
            format!(
                "change `{}` numbers its operations from `{start}`, not after `{last}`, the last operation of the history it builds on",
                change.hash()
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses `change` if an operation it names as overwritten (`named`) is not one of the
/// changes it builds on, directly or through them.
pub(crate) fn check(doc: &mut Doc, change: &Change, named: &[Named]) -> Result<(), RuleViolation> {
    let mut unseen: Option<HashSet<ChangeHash>> = None;
    for (counter, actor) in named {
        let id = ObjId::Id(*counter, actor.clone(), usize::MAX);
        let seen = match doc.am.hash_for_opid(&id) {
            None => false,
            Some(made_by) if change.deps().contains(&made_by) => true,
            Some(made_by) => !unseen
                .get_or_insert_with(|| {
                    doc.am
                        .get_changes_meta(change.deps())
                        .into_iter()
                        .map(|m| m.hash)
                        .collect()
                })
                .contains(&made_by),
        };
        if !seen {
            return Err(RuleViolation::at(
                "transition",
                "change.ops",
                format!(
                    "an operation of change `{}` overwrites operation `{counter}@{actor}`, which is not in the history the change builds on",
                    change.hash()
                ),
            ));
        }
    }
    Ok(())
}
