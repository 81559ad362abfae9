//! Which documents a device's push may write, by its scope and by what the server has told
//! it (docs/adr/0006-writes-after-a-store-leaves-the-scope.md).
//!
//! - A document in the device's read scope is judged by the write rules as usual.
//! - A document about a store that left the device's scope at log position `M` may still
//!   be written if the server has not yet handed the device any position at or after `M`
//!   (a feed response that far would have announced the move): the device is delivering
//!   edits it made before it heard. Edits that build on a change the server logged after
//!   `M` were demonstrably made after the move, and are refused. Once the device has been
//!   handed `M`, every change to that store's documents is refused, new documents too. No
//!   device clock is read: "handed" is the server's own record, kept per device by the
//!   feed, never the cursor a device sends.
//! - Anything else is refused with one rejection that says nothing about the document: an
//!   id outside the scope gets the answer an unknown id gets ([`refusal`]; a push that
//!   brings nothing new for it is answered with no heads, as an unknown id is).

use std::collections::{HashMap, HashSet};

use fieldsync_core::protocol::Rejection;
use fieldsync_core::{IncomingChange, Role};

use super::DeviceInfo;
use super::push::{PushTx, ScopeRow, store_in_scope};
use crate::error::AppResult;

/// The rule a write outside the device's scope breaks.
pub const RULE: &str = "store_scope";

/// What a device may do with the documents of a store (or with one stored document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// In its scope now (supervisors and admins: everything).
    InScope,
    /// The store left its scope at log position `left_at`, and the device has not been
    /// handed that position yet: it may deliver what it made before it heard.
    Unheard { left_at: i64 },
    /// Outside its scope, or it has been told the store left.
    Out,
}

/// A document as its backend stores it, read at the start of a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRow {
    /// The stored heads, joined by commas.
    pub heads: String,
    pub store_id: Option<String>,
    /// A scorecard's scored account manager.
    pub manager: Option<String>,
    /// Bytes of the document's stored changes.
    pub bytes: i64,
}

/// How long after a store left a device's scope (by the server's clock) the device may
/// still deliver what it made before it heard, if it has not been told yet: a phone
/// offline longer than this has its edits to the store refused (kept on the phone, marked
/// rejected), and a device that avoids being told cannot write to the store for longer.
pub const UNHEARD_FOR_MS: i64 = 30 * 86_400_000;

/// The access of one device to the stores of one push, each worked out once.
pub struct Scopes<'a> {
    device: &'a DeviceInfo,
    /// The server's clock at the push, milliseconds.
    now: i64,
    /// The last log position handed to the device that the server recorded (read when
    /// first needed).
    handed: Option<i64>,
    stores: HashMap<String, Access>,
}

impl<'a> Scopes<'a> {
    pub fn new(device: &'a DeviceInfo, now: i64) -> Scopes<'a> {
        Scopes {
            device,
            now,
            handed: None,
            stores: HashMap::new(),
        }
    }

    fn privileged(&self) -> bool {
        matches!(self.device.role, Role::Supervisor | Role::Admin)
    }

    /// The device's access to a stored document: what the feed would send it, or what it
    /// may still deliver to a store that left.
    pub fn of_doc(&mut self, tx: &mut impl PushTx, row: &DocRow) -> AppResult<Access> {
        if self.privileged()
            || (self.device.role == Role::AccountManager
                && row.manager.as_deref() == Some(self.device.user_id.as_str()))
        {
            return Ok(Access::InScope);
        }
        match &row.store_id {
            Some(store) => self.of_store(tx, store),
            None => Ok(Access::Out),
        }
    }

    /// The device's access to the documents about `store`.
    pub fn of_store(&mut self, tx: &mut impl PushTx, store: &str) -> AppResult<Access> {
        if self.privileged() {
            return Ok(Access::InScope);
        }
        if let Some(access) = self.stores.get(store) {
            return Ok(*access);
        }
        let access = self.work_out(tx, store)?;
        self.stores.insert(store.to_owned(), access);
        Ok(access)
    }

    fn work_out(&mut self, tx: &mut impl PushTx, store: &str) -> AppResult<Access> {
        let device = self.device;
        if tx
            .store_facts(store)?
            .is_some_and(|(territory, demo)| store_in_scope(device, &territory, demo))
        {
            return Ok(Access::InScope);
        }
        let moves = tx.scope_moves(store)?;
        let Some(left) = last_left(device, &moves) else {
            return Ok(Access::Out);
        };
        let handed = match self.handed {
            Some(handed) => handed,
            None => {
                let handed = tx.handed(&device.device_id)?;
                self.handed = Some(handed);
                handed
            }
        };
        Ok(after_move(handed, left, self.now))
    }
}

/// The access to a store that left the device's scope with the scope row `left`: not
/// told yet (`handed` before it) and within [`UNHEARD_FOR_MS`] of it, the device may still
/// deliver; otherwise not.
fn after_move(handed: i64, left: &ScopeRow, now: i64) -> Access {
    if handed < left.seq && now.saturating_sub(left.at) < UNHEARD_FOR_MS {
        Access::Unheard { left_at: left.seq }
    } else {
        Access::Out
    }
}

/// The last scope row that took the store out of the device's scope.
fn last_left<'r>(device: &DeviceInfo, rows: &'r [ScopeRow]) -> Option<&'r ScopeRow> {
    rows.iter()
        .filter(|r| {
            let was = store_in_scope(
                device,
                r.old_territory.as_deref().unwrap_or_default(),
                r.old_demo.unwrap_or(false),
            );
            let is = store_in_scope(device, &r.new_territory, r.new_demo);
            was && !is
        })
        .max_by_key(|r| r.seq)
}

/// The refusal of a write outside the device's scope: the same for every document, known
/// or not, so that it tells nothing about one.
pub fn refusal(doc: &str, device: &DeviceInfo) -> Rejection {
    Rejection {
        doc: doc.to_owned(),
        rule: RULE.into(),
        field: String::new(),
        message: format!("not in the scope of `{}`", device.user_id),
    }
}

/// The refusal of `new` (changes to a document of a store that left the device's scope at
/// `left_at`) if any of them builds, directly or through another of them, on a change the
/// server logged after `left_at`: such an edit was made after the move.
pub fn built_after_move(
    tx: &mut impl PushTx,
    doc: &str,
    new: &[IncomingChange],
    left_at: i64,
    device: &DeviceInfo,
) -> AppResult<Option<Rejection>> {
    let later: HashSet<String> = tx.hashes_after(doc, left_at)?.into_iter().collect();
    if later.is_empty() {
        return Ok(None);
    }
    let changes: Vec<(String, Vec<String>)> = new.iter().map(|c| (c.hash(), c.deps())).collect();
    let found = builds_on_any(&later, &changes);
    Ok(found.then(|| Rejection {
        doc: doc.to_owned(),
        rule: RULE.into(),
        field: String::new(),
        message: format!(
            "these edits build on changes made after the store left `{}`'s scope",
            device.user_id
        ),
    }))
}

/// Whether any of `changes` (hash and deps) builds, directly or through others of them, on
/// a change in `later`. Each change is answered once, so a push's changes cost one visit
/// each in any order (a chain listed newest first included).
fn builds_on_any(later: &HashSet<String>, changes: &[(String, Vec<String>)]) -> bool {
    let changes: HashMap<&str, &[String]> = changes
        .iter()
        .map(|(hash, deps)| (hash.as_str(), deps.as_slice()))
        .collect();
    let mut answered: HashMap<&str, bool> = HashMap::with_capacity(changes.len());
    let mut found = false;
    // Bounded: every step answers a change or stacks its unanswered deps, which the hashes
    // make acyclic; `steps` stops a cycle all the same (as a refusal).
    let bound = changes.values().map(|d| d.len()).sum::<usize>() * 2 + changes.len() * 2 + 1;
    let mut steps = 0;
    for start in changes.keys() {
        let mut stack = vec![*start];
        while let Some(&hash) = stack.last() {
            steps += 1;
            if steps > bound {
                found = true;
                break;
            }
            if answered.contains_key(hash) {
                stack.pop();
                continue;
            }
            let deps = changes.get(hash).copied().unwrap_or_default();
            let waiting: Vec<&str> = deps
                .iter()
                .map(String::as_str)
                .filter(|d| changes.contains_key(d) && !answered.contains_key(d))
                .collect();
            if !waiting.is_empty() {
                stack.extend(waiting);
                continue;
            }
            let after = deps
                .iter()
                .any(|d| later.contains(d) || answered.get(d.as_str()).copied().unwrap_or(false));
            answered.insert(hash, after);
            found |= after;
            stack.pop();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` changes, `c0` first, each depending on the one before; `c0` on `root`.
    fn chain(n: usize, root: &str) -> Vec<(String, Vec<String>)> {
        (0..n)
            .map(|i| {
                let dep = if i == 0 {
                    root.to_owned()
                } else {
                    format!("c{}", i - 1)
                };
                (format!("c{i}"), vec![dep])
            })
            .collect()
    }

    #[test]
    fn a_long_chain_listed_newest_first_is_judged_in_one_visit_per_change() {
        let later: HashSet<String> = ["after-the-move".to_owned()].into();
        let mut built = chain(20_000, "after-the-move");
        built.reverse();
        assert!(builds_on_any(&later, &built));
        let mut old = chain(20_000, "before-the-move");
        old.reverse();
        assert!(!builds_on_any(&later, &old));
        // One change at the end of an old chain building on a later change is found too.
        old.push(("tip".into(), vec!["c19999".into(), "after-the-move".into()]));
        assert!(builds_on_any(&later, &old));
    }

    fn row(seq: i64, old: &str, new: &str) -> ScopeRow {
        ScopeRow {
            seq,
            at: seq * 1_000,
            old_territory: Some(old.into()),
            new_territory: new.into(),
            old_demo: Some(false),
            new_demo: false,
        }
    }

    #[test]
    fn a_store_that_left_came_back_and_left_again_counts_from_its_last_departure() {
        let li = DeviceInfo {
            device_id: "li-phone".into(),
            user_id: "am-li".into(),
            role: Role::AccountManager,
        };
        let rows = [
            row(10, "am-li", "am-wu"),
            row(20, "am-wu", "am-li"),
            row(30, "am-li", "am-zhao"),
            row(40, "am-zhao", "am-wu"),
        ];
        let seq = |r: Option<&ScopeRow>| r.map(|r| r.seq);
        assert_eq!(seq(last_left(&li, &rows)), Some(30));
        assert_eq!(seq(last_left(&li, &rows[..1])), Some(10));
        assert_eq!(seq(last_left(&li, &[row(5, "am-wu", "am-zhao")])), None);
    }

    /// Shown to guard the window: with `after_move` ignoring the move's time, a device
    /// never told could deliver to the store 31 days after the move.
    #[test]
    fn a_device_not_told_of_a_move_may_deliver_for_thirty_days_after_it_and_no_longer() {
        let moved = ScopeRow {
            at: 1_800_000_000_000,
            ..row(40, "am-li", "am-wu")
        };
        let day = 86_400_000;
        let unheard = Access::Unheard { left_at: 40 };
        assert_eq!(after_move(39, &moved, moved.at + day), unheard);
        assert_eq!(after_move(39, &moved, moved.at + 29 * day), unheard);
        assert_eq!(after_move(39, &moved, moved.at + 30 * day), Access::Out);
        assert_eq!(after_move(39, &moved, moved.at + 31 * day), Access::Out);
        // Told: never, however soon.
        assert_eq!(after_move(40, &moved, moved.at + 1), Access::Out);
    }
}
