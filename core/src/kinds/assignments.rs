//! A store's assignments over its life: which territory held it, from when. Read from every
//! `territory` its document was ever given (domain.md: "reassignment moves it, with its
//! history"), so the rules judged over past weeks (R1's weekly visit and R5's walk over a
//! month, R4's spot checks) owe or credit a store to the manager who held it at the instant
//! judged, not to the one who holds it now.
//!
//! Decided (docs/adr/0029-store-assignment-history.md): the assignment that holds now is
//! the document's current `territory`, from its stamp. Earlier ones are the entries written
//! before that stamp, ordered by their stamps; an entry stamped at or after the current
//! one lost to it (two admins reassigning at once) and never held. A store is its
//! territory's from an assignment's stamp until the next assignment's. Every store's
//! `territory` is stamped (the store's reader requires it), so a store always has one.

use automerge::ScalarValue;

use crate::doc::{DOC_ROOT, Doc};

/// One assignment: the store was `territory`'s from `from` (milliseconds) until the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub territory: String,
    pub from: i64,
}

/// The store's assignments, oldest first, the current one last; consecutive entries of the
/// same territory are one assignment (from the earlier stamp). Empty when the document
/// holds no stamped territory as text (the store's reader refuses it first).
pub(crate) fn assignments(doc: &mut Doc) -> Vec<Assignment> {
    let Some(current) = doc.stamped(&DOC_ROOT, "territory") else {
        return Vec::new();
    };
    let Some(territory) = text(&current.current.value) else {
        return Vec::new();
    };
    let now = current.current.at.millis();
    let mut earlier: Vec<Assignment> = doc
        .root_writes("territory")
        .into_iter()
        .filter(|w| w.at.millis() < now)
        .filter_map(|w| {
            Some(Assignment {
                territory: text(&w.value)?,
                from: w.at.millis(),
            })
        })
        .collect();
    earlier.sort_by(|a, b| (a.from, &a.territory).cmp(&(b.from, &b.territory)));
    earlier.push(Assignment {
        territory,
        from: now,
    });
    let mut held: Vec<Assignment> = Vec::with_capacity(earlier.len());
    for a in earlier {
        if held
            .last()
            .is_some_and(|last| last.territory == a.territory)
        {
            continue;
        }
        held.push(a);
    }
    held
}

fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}
