//! The document as the generator reads it: values, keys, objects (now or at an older
//! version), and a task's state.

use automerge::{AutoCommit, ChangeHash, ObjId, ROOT, ReadDoc, ScalarValue};
use serde_json::Value as Json;

use super::{Facts, Moment, Rand, Sender, Target, pick};

/// The document as the generator reads it.
pub(super) struct View<'a> {
    pub doc: &'a AutoCommit,
    pub target: Target,
    pub facts: &'a Facts,
    pub at: Moment,
    /// The time of the latest change of the document (what a new change builds on).
    pub latest: i64,
}

impl View<'_> {
    pub(super) fn scalar(&self, keys: &[&str]) -> Option<ScalarValue> {
        let (last, keys) = keys.split_last()?;
        let mut obj = ROOT;
        for key in keys {
            obj = match self.doc.get(&obj, *key).ok()?? {
                (automerge::Value::Object(_), id) => id,
                _ => return None,
            };
        }
        match self.doc.get(&obj, *last).ok()?? {
            (automerge::Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// The object at `keys` now, or in the version at `heads`.
    pub(super) fn object(&self, keys: &[String], heads: Option<&[ChangeHash]>) -> Option<ObjId> {
        let mut obj = ROOT;
        for key in keys {
            let found = match heads {
                Some(heads) => self.doc.get_at(&obj, key.as_str(), heads),
                None => self.doc.get(&obj, key.as_str()),
            };
            obj = match found.ok()?? {
                (automerge::Value::Object(_), id) => id,
                _ => return None,
            };
        }
        Some(obj)
    }

    pub(super) fn str(&self, keys: &[&str]) -> Option<String> {
        self.scalar(keys)
            .and_then(|s| s.as_str().map(str::to_owned))
    }

    pub(super) fn int(&self, keys: &[&str]) -> Option<i64> {
        self.scalar(keys).and_then(|s| s.as_i64())
    }

    pub(super) fn entry(&self, keys: &[&str]) -> Option<Json> {
        serde_json::from_str(&self.str(keys)?).ok()
    }

    pub(super) fn keys(&self, keys: &[&str]) -> Vec<String> {
        let mut obj = ROOT;
        for key in keys {
            obj = match self.doc.get(&obj, *key) {
                Ok(Some((automerge::Value::Object(_), id))) => id,
                _ => return Vec::new(),
            };
        }
        self.doc.keys(&obj).collect()
    }

    pub(super) fn clock(&self) -> i64 {
        self.at.clock
    }

    /// The task's state, assignee and number of after photos.
    pub(super) fn task(&self) -> (String, String, usize) {
        let state = self
            .entry(&["state"])
            .and_then(|e| e.get("v").and_then(Json::as_str).map(str::to_owned))
            .unwrap_or_default();
        let assignee = self.str(&["assignee"]).unwrap_or_default();
        (state, assignee, self.keys(&["photos"]).len())
    }

    /// Li or the supervisor, who may both write displays, counts, tasks and complaints.
    pub(super) fn either(&self, rng: &mut Rand) -> Sender {
        *pick(rng, &[Sender::Li, Sender::Sup])
    }

    /// Who writes the document's plain fields.
    pub(super) fn writer(&self, rng: &mut Rand) -> Sender {
        match self.target {
            Target::Store => Sender::Admin,
            Target::Visit => Sender::Li,
            Target::CardOpen | Target::CardAcknowledged => Sender::Sup,
            _ => self.either(rng),
        }
    }
}
