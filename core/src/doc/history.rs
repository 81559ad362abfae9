//! A document's history: each commit says who made it and what it did, and the document
//! can be read as it was at any past instant (by its authors' clocks) or at any heads.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::transaction::CommitOptions;
use automerge::{ChangeHash, ScalarValue};

use super::fields::{Fields, Written};
use super::{Doc, Stamp};
use crate::error::Result;
use crate::time::Timestamp;

/// One entry of a document's history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// Hex hash of the Automerge change.
    pub change: String,
    pub by: String,
    pub at: Timestamp,
    pub what: String,
}

/// A change's message as core writes it: who made the change, and what it did. The
/// server refuses any other message (`kinds::clock`), and the history reads this one.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommitMessage {
    pub(crate) by: String,
    /// A device may leave it out or write null.
    #[serde(default)]
    pub(crate) what: Option<String>,
}

impl CommitMessage {
    /// `message` read as one JSON object with `by` and perhaps `what`, each once (serde
    /// would take the array `["am-li"]` for the struct too: only an object is one).
    pub(crate) fn parse(message: &str) -> Option<CommitMessage> {
        if !message.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(message).ok()
    }
}

impl Doc {
    /// Closes the pending edits into one change stamped with who and when.
    pub(crate) fn commit(&mut self, stamp: &Stamp, what: &str) -> Option<ChangeHash> {
        let message = serde_json::to_string(&CommitMessage {
            by: stamp.by.clone(),
            what: Some(what.to_owned()),
        })
        .unwrap_or_default();
        self.am.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(stamp.at.0),
        )
    }

    /// Every change in causal order (a change after everything it built on), with who made
    /// it and what it did. Device clocks drift, so the order is not sorted by `at`.
    pub(crate) fn history(&mut self) -> Vec<HistoryEntry> {
        self.am
            .get_changes_meta(&[])
            .into_iter()
            .map(|meta| {
                let parsed = meta.message.as_deref().and_then(CommitMessage::parse);
                let (by, what) = match parsed {
                    Some(m) => (m.by, m.what.unwrap_or_default()),
                    None => (
                        String::new(),
                        meta.message.as_deref().unwrap_or_default().to_owned(),
                    ),
                };
                HistoryEntry {
                    change: meta.hash.to_string(),
                    by,
                    at: Timestamp(meta.timestamp),
                    what,
                }
            })
            .collect()
    }

    /// Every stamped entry ever written at the document's root to a key `keys` accepts, with
    /// its key, including the ones later overwritten or that lost to a concurrent write, in
    /// causal order (each change after what it built on): what those fields held over the
    /// document's life. Entries that are not stamped (no `{v, by, at}`) are left out.
    pub(crate) fn root_writes(
        &mut self,
        keys: impl Fn(&str) -> bool,
    ) -> Vec<(String, Written<ScalarValue>)> {
        let mut writes = Vec::new();
        for change in self.am.get_changes(&[]) {
            for op in change.decode().operations {
                let (ObjectId::Root, Key::Map(k), OpType::Put(ScalarValue::Str(text))) =
                    (&op.obj, &op.key, &op.action)
                else {
                    continue;
                };
                if !keys(k.as_str()) {
                    continue;
                }
                if let Some(fields) = Fields::parse(text) {
                    let written = fields.written();
                    writes.push((
                        k.to_string(),
                        Written {
                            value: written.value.get("v").cloned().unwrap_or(ScalarValue::Null),
                            by: written.by,
                            at: written.at,
                        },
                    ));
                }
            }
        }
        writes
    }

    /// Every deletion of one of `keys` at the document's root, with its key and the time of
    /// the change that made it (core commits a change at its stamp's time): a deleted field
    /// holds no stamped entry to say when it was cleared. In causal order.
    pub(crate) fn root_deletions(&mut self, keys: &[&str]) -> Vec<(String, i64)> {
        let mut deletions = Vec::new();
        for change in self.am.get_changes(&[]) {
            let decoded = change.decode();
            for op in decoded.operations {
                if let (ObjectId::Root, Key::Map(k), OpType::Delete) =
                    (&op.obj, &op.key, &op.action)
                    && keys.contains(&k.as_str())
                {
                    deletions.push((k.to_string(), decoded.time));
                }
            }
        }
        deletions
    }

    /// The document as it was at the end of `at`: every change made at or before `at` by its
    /// author's clock, plus whatever those changes built on (a drifting clock cannot make a
    /// change appear without its causes).
    pub(crate) fn as_of(&mut self, at: Timestamp) -> Result<Doc> {
        let metas: Vec<(ChangeHash, i64, Vec<ChangeHash>)> = self
            .am
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| (m.hash, m.timestamp, m.deps))
            .collect();
        let deps_of: HashMap<ChangeHash, &Vec<ChangeHash>> =
            metas.iter().map(|(h, _, d)| (*h, d)).collect();
        let mut included: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = metas
            .iter()
            .filter(|(_, t, _)| *t <= at.0)
            .map(|(h, _, _)| *h)
            .collect();
        // Bounded by the number of changes: each hash is expanded once.
        while let Some(hash) = stack.pop() {
            if included.insert(hash)
                && let Some(deps) = deps_of.get(&hash)
            {
                stack.extend(deps.iter().copied());
            }
        }
        let referenced: HashSet<ChangeHash> = included
            .iter()
            .filter_map(|h| deps_of.get(h))
            .flat_map(|d| d.iter().copied())
            .collect();
        let heads: Vec<ChangeHash> = included
            .iter()
            .filter(|h| !referenced.contains(h))
            .copied()
            .collect();
        let am = self.am.fork_at(&heads)?;
        let mut past = Doc::from_parts(self.id.clone(), self.kind, am);
        past.saved = heads;
        Ok(past)
    }

    /// The earliest author's time among the changes not reachable from `heads`; `None` when
    /// there are none. What a reading as of an earlier instant cannot have seen.
    pub(crate) fn earliest_change_since(&mut self, heads: &[ChangeHash]) -> Option<i64> {
        self.am
            .get_changes_meta(heads)
            .into_iter()
            .map(|m| m.timestamp)
            .min()
    }

    /// The document as it was at `heads` (all of them held), with no derived rows.
    pub(crate) fn fork_at(&mut self, heads: &[ChangeHash]) -> Result<Doc> {
        let am = self.am.fork_at(heads)?;
        Ok(Doc::from_parts(self.id.clone(), self.kind, am))
    }
}
