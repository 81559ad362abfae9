//! A push, whatever the backend: which changes are new, whose actors they are, what the
//! write rules say, and the rows a push that passes every rule appends.
//!
//! A backend opens its write transaction (and takes whatever locks make its documents its
//! own until commit), hands [`run`] a [`PushTx`] over it, and commits when the result is
//! `Ok(Ok(_))`; anything else rolls back. Afterwards it may keep the replicas in its
//! [`ReplicaCache`], which is only ever trusted when its heads are the stored ones.

use std::collections::{HashMap, HashSet, VecDeque};

use fieldsync_core::protocol::{Accepted, Rejection};
use fieldsync_core::{DocId, DocKind, DocSummary, IncomingChange, Replica, Role, Writer};

use super::{DeviceInfo, PushResult, Pushed};
use crate::error::{AppError, AppResult};

/// How long a device may still write documents of a store that left its scope: edits it
/// made offline before the move are accepted, not lost.
pub const SCOPE_GRACE_MS: i64 = 30 * 24 * 3_600_000;

/// Documents whose replicas a server keeps in memory between pushes.
const REPLICA_CACHE: usize = 2_000;

/// A scope row of the log: a store that moved between territories or on/off the demo street.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMove {
    pub store: String,
    pub old_territory: Option<String>,
    pub new_territory: String,
    pub old_demo: Option<bool>,
    pub new_demo: bool,
}

/// What [`run`] needs from a backend's open write transaction.
pub trait PushTx {
    /// The document as stored now (the cache's copy only if its heads are the stored ones).
    fn replica(&mut self, doc: &str) -> AppResult<Replica>;
    /// The device an Automerge actor is bound to, if any.
    fn actor_owner(&mut self, actor: &str) -> AppResult<Option<String>>;
    /// A store's territory and demo-street flag.
    fn store_facts(&mut self, store: &str) -> AppResult<Option<(String, bool)>>;
    /// The former (territory, demo street) of every move of `store` at or after `since`.
    fn moves_since(
        &mut self,
        store: &str,
        since: i64,
    ) -> AppResult<Vec<(Option<String>, Option<bool>)>>;
    /// Called once before the first row is appended, with how many log rows will follow:
    /// where a backend makes its cursor exact (PostgreSQL takes the counter's row lock).
    fn reserve(&mut self, rows: usize) -> AppResult<()>;
    /// Appends a change to the log and stores it; binds its actor to the device.
    fn append_change(
        &mut self,
        doc: &str,
        change: &mut IncomingChange,
        device: &str,
        at: i64,
    ) -> AppResult<()>;
    fn upsert_doc(&mut self, doc: &str, summary: &DocSummary, heads: &[String]) -> AppResult<()>;
    fn upsert_store(&mut self, store: &str, territory: &str, demo_street: bool) -> AppResult<()>;
    fn append_scope(&mut self, moved: &ScopeMove, at: i64) -> AppResult<()>;
}

/// Whether a store with these facts is in a device's read scope.
pub fn store_in_scope(device: &DeviceInfo, territory: &str, demo_street: bool) -> bool {
    match device.role {
        Role::AccountManager => territory == device.user_id,
        Role::MarketTeam => demo_street,
        Role::Supervisor | Role::Admin => true,
    }
}

/// A document whose new changes passed every rule, waiting to be written.
struct Staged {
    doc: String,
    replica: Replica,
    new: Vec<IncomingChange>,
    after: DocSummary,
    moved: Option<ScopeMove>,
}

/// The outcome of [`run`], and the replicas a backend may cache once it committed.
pub struct Outcome {
    pub result: PushResult,
    pub replicas: Vec<(String, Replica)>,
}

/// Judges and writes a device's push inside the backend's transaction.
pub fn run(
    tx: &mut impl PushTx,
    device: &DeviceInfo,
    docs: Vec<(DocId, Vec<IncomingChange>)>,
    now: i64,
) -> AppResult<Outcome> {
    let mut staged: Vec<Staged> = Vec::new();
    let mut rejections: Vec<Rejection> = Vec::new();
    let mut accepted: Vec<Accepted> = Vec::new();
    for (doc_id, changes) in docs {
        let doc = doc_id.to_string();
        let mut replica = tx.replica(&doc)?;
        let mut seen = HashSet::new();
        let new: Vec<IncomingChange> = changes
            .into_iter()
            .filter(|c| seen.insert(c.hash()) && !replica.has_change(&c.hash()))
            .collect();
        if new.is_empty() {
            accepted.push(Accepted {
                doc,
                heads: replica.heads(),
            });
            continue;
        }
        if let Some(actor) = foreign_actor(tx, &new, device)? {
            rejections.push(Rejection {
                doc,
                rule: "actor_binding".into(),
                message: format!("actor `{actor}` belongs to another device"),
            });
            continue;
        }
        let before = replica.summary()?;
        let effect = replica
            .apply(&new)
            .map_err(|e| AppError::BadRequest(format!("document `{doc}`: {e}")))?;
        let after = replica
            .summary()?
            .ok_or_else(|| AppError::BadRequest(format!("document `{doc}` has no content")))?;
        // A new store document is judged on its own content; every other document, and a
        // store that exists already, by the store it is about.
        let scope_store = match after.kind {
            DocKind::Store => before.as_ref().and_then(|_| after.store_id.clone()),
            _ => after.store_id.clone(),
        };
        let store_in_scope = match &scope_store {
            Some(store) => {
                tx.store_facts(store)?
                    .is_some_and(|(t, d)| store_in_scope(device, &t, d))
                    || left_scope_recently(tx, device, store, now)?
            }
            None => matches!(device.role, Role::Supervisor | Role::Admin),
        };
        let writer = Writer {
            user: &device.user_id,
            role: device.role,
            store_in_scope,
        };
        if let Err(v) = fieldsync_core::check_write(before.as_ref(), &after, &effect, &writer) {
            rejections.push(Rejection {
                doc,
                rule: v.rule.into(),
                message: v.message,
            });
            continue;
        }
        let moved = scope_move(&doc, before.as_ref(), &after);
        staged.push(Staged {
            doc,
            replica,
            new,
            after,
            moved,
        });
    }
    if !rejections.is_empty() {
        return Ok(Outcome {
            result: Err(rejections),
            replicas: Vec::new(),
        });
    }
    let rows: usize = staged
        .iter()
        .map(|s| s.new.len() + usize::from(s.moved.is_some()))
        .sum();
    if rows > 0 {
        tx.reserve(rows)?;
    }
    let mut applied = 0;
    for s in &mut staged {
        for change in &mut s.new {
            tx.append_change(&s.doc, change, &device.device_id, now)?;
            applied += 1;
        }
        let heads = s.replica.heads();
        tx.upsert_doc(&s.doc, &s.after, &heads)?;
        if s.after.kind == DocKind::Store
            && let (Some(territory), Some(demo)) = (&s.after.territory, s.after.demo_street)
        {
            tx.upsert_store(&s.doc, territory, demo)?;
        }
        if let Some(moved) = &s.moved {
            tx.append_scope(moved, now)?;
        }
        accepted.push(Accepted {
            doc: s.doc.clone(),
            heads,
        });
    }
    Ok(Outcome {
        result: Ok(Pushed { accepted, applied }),
        replicas: staged.into_iter().map(|s| (s.doc, s.replica)).collect(),
    })
}

/// The first actor of `new` bound to a device other than `device`.
fn foreign_actor(
    tx: &mut impl PushTx,
    new: &[IncomingChange],
    device: &DeviceInfo,
) -> AppResult<Option<String>> {
    let mut actors: Vec<String> = new.iter().map(IncomingChange::actor).collect();
    actors.sort();
    actors.dedup();
    for actor in actors {
        if tx
            .actor_owner(&actor)?
            .is_some_and(|owner| owner != device.device_id)
        {
            return Ok(Some(actor));
        }
    }
    Ok(None)
}

/// Whether the store was in the device's scope before a move made in the last
/// [`SCOPE_GRACE_MS`].
fn left_scope_recently(
    tx: &mut impl PushTx,
    device: &DeviceInfo,
    store: &str,
    now: i64,
) -> AppResult<bool> {
    Ok(tx
        .moves_since(store, now - SCOPE_GRACE_MS)?
        .iter()
        .any(|(t, d)| store_in_scope(device, t.as_deref().unwrap_or_default(), d.unwrap_or(false))))
}

/// The scope row a store document's new content calls for, if it moved.
fn scope_move(doc: &str, before: Option<&DocSummary>, after: &DocSummary) -> Option<ScopeMove> {
    if after.kind != DocKind::Store {
        return None;
    }
    let (Some(territory), Some(demo)) = (&after.territory, after.demo_street) else {
        return None;
    };
    let before = before?;
    if before.territory.as_ref() == Some(territory) && before.demo_street == Some(demo) {
        return None;
    }
    Some(ScopeMove {
        store: doc.to_owned(),
        old_territory: before.territory.clone(),
        new_territory: territory.clone(),
        old_demo: before.demo_street,
        new_demo: demo,
    })
}

/// Replicas of recently written documents, so a push does not reload their history.
/// Bounded; an entry is used only when its heads are the stored heads, since another
/// process (the admin tools, another server instance) may have written since.
#[derive(Default)]
pub struct ReplicaCache {
    replicas: HashMap<String, Replica>,
    order: VecDeque<String>,
}

impl ReplicaCache {
    /// The cached replica of `doc` if its heads, joined by commas, are `stored_heads`.
    pub fn fresh(&self, doc: &str, stored_heads: Option<&str>) -> Option<Replica> {
        let mut replica = self.replicas.get(doc)?.clone();
        (stored_heads == Some(replica.heads().join(",").as_str())).then_some(replica)
    }

    pub fn remember(&mut self, doc: String, replica: Replica) {
        if self.replicas.insert(doc.clone(), replica).is_none() {
            self.order.push_back(doc);
        }
        // Bounded: each pass removes one entry or stops.
        while self.replicas.len() > REPLICA_CACHE {
            match self.order.pop_front() {
                Some(old) => {
                    self.replicas.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn clear(&mut self) {
        self.replicas.clear();
        self.order.clear();
    }
}

/// A replica from a document's stored changes, oldest first.
pub fn load_replica(doc: &str, stored: &[Vec<u8>]) -> AppResult<Replica> {
    let id = DocId::parse("doc", doc)?;
    if stored.is_empty() {
        return Ok(Replica::empty(&id));
    }
    Ok(Replica::load(&id, stored.iter().map(Vec::as_slice))?)
}
