//! A push, whatever the backend: which changes are new, whose actors they are, what the
//! write rules say, and the rows a push that passes every rule appends.
//!
//! A backend opens its write transaction (and takes whatever locks make its documents its
//! own until commit), hands [`run`] a [`PushTx`] over it, and commits when the result is
//! `Ok(Ok(_))`; anything else rolls back. Afterwards it may keep the replicas in its
//! [`ReplicaCache`](super::replica_cache::ReplicaCache).
//!
//! [`run`] works in three passes: it reads each document's stored state in the request's
//! order; then loads and applies every document's new changes, each document on its own and
//! in parallel for a large push (the part that costs CPU and needs no transaction); then
//! judges the documents and writes them, in the request's order. Which documents are
//! accepted, which rejected and with what message, and which error ends a push, are what
//! judging them one after the other would give.
//!
//! Which documents a device may write at all (its scope, and a store that left it) is
//! `scope_guard.rs`; how large documents and a device's day may grow is `quota.rs`; the
//! first pass is `push/read.rs`, the second `push/work.rs`, and what a push asks of its
//! backend's transaction `push/tx.rs`.

use fieldsync_core::protocol::{Accepted, Rejection};
use fieldsync_core::{
    DocId, DocKind, DocSummary, IncomingChange, Pusher, Replica, Role, RuleViolation, Writer,
};

use self::read::read_one;
use self::work::{PhotoFacts, Worked, work_all};
use super::quota::{self, Quotas};
use super::scope_guard::{self, Access, Scopes};
use super::{DeviceInfo, PushResult, Pushed};
use crate::error::{AppError, AppResult};

mod read;
mod store_copy;
mod tx;
mod work;

pub use store_copy::held_by_stored;
pub use tx::{PushTx, ScopeMove, ScopeRow, Stored};

/// When a stored document happened, as its content says ([`DocSummary::happened_at`]): for
/// documents stored before the server recorded it.
pub fn happened_at_of_stored(doc: &str, changes: &[Vec<u8>]) -> AppResult<Option<i64>> {
    let replica = super::replica_cache::load_replica(doc, changes)?;
    Ok(replica.summary()?.and_then(|s| s.happened_at))
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
    /// Bytes of `new`, as stored.
    new_bytes: u64,
    after: DocSummary,
    /// Its index rows after the push (`Replica::feed_index`).
    feed_index: Option<Vec<u8>>,
    photos: PhotoFacts,
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
    quotas: &Quotas,
) -> AppResult<Outcome> {
    // Counted while it runs: the console's work steps aside (`priority.rs`).
    let _sync = crate::priority::foreground();
    let day = quota::day_of(now);
    if quotas.device_bytes_per_day != u64::MAX {
        // A device whose day is spent (refused pushes count) costs no judging.
        let used = u64::try_from(tx.bytes_on_day(&device.device_id, day)?).unwrap_or(0);
        quota::check_budget_left(used, quotas, now)?;
    }
    let mut scopes = Scopes::new(device, now);
    // A read that fails ends the push once the documents before it are judged, as it would
    // have if each document were read, applied and judged before the next one is read.
    let mut jobs = Vec::with_capacity(docs.len());
    let mut seen = Vec::with_capacity(docs.len());
    let mut read_error = None;
    for (doc_id, changes) in docs {
        match read_one(tx, &mut scopes, doc_id.to_string(), changes) {
            Ok((job, s)) => {
                jobs.push(job);
                seen.push(s);
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let docs: Vec<String> = jobs.iter().map(|j| j.doc.clone()).collect();
    let pusher = Pusher {
        user: &device.user_id,
        received_at: now,
    };
    let worked = work_all(jobs, &pusher);
    let pushed_held = store_copy::pushed_held(&docs, &worked);
    let privileged = matches!(device.role, Role::Supervisor | Role::Admin);

    let mut staged: Vec<Staged> = Vec::new();
    let mut unchanged: Vec<(String, Replica)> = Vec::new();
    let mut rejections: Vec<Rejection> = Vec::new();
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut over_document_limit = false;
    for ((doc, worked), seen) in docs.into_iter().zip(worked).zip(seen) {
        let Worked {
            mut replica,
            read,
            builds_on_hidden,
            new,
            applied,
        } = worked?;
        let hidden = seen.access == Some(Access::Out);
        if builds_on_hidden {
            rejections.push(scope_guard::refusal(&doc, device));
            continue;
        }
        let Some(result) = applied else {
            // Nothing about a document outside the scope: no heads, as for an unknown id.
            let heads = if hidden { Vec::new() } else { replica.heads() };
            accepted.push(Accepted {
                doc: doc.clone(),
                heads,
            });
            if read {
                unchanged.push((doc, replica));
            }
            continue;
        };
        if let Some(actor) = foreign_actor(tx, &new, device)? {
            rejections.push(Rejection {
                doc,
                rule: "actor_binding".into(),
                field: String::new(),
                message: format!("actor `{actor}` belongs to another device"),
            });
            continue;
        }
        let (before, effect, after, feed_index, photos) = match result? {
            Ok(applied) => applied,
            Err(v) => {
                rejections.push(rejection(doc, v));
                continue;
            }
        };
        // A new store document is judged on its own content; every other document, and a
        // store that exists already, by the store it is about.
        let scope_store = match after.kind {
            DocKind::Store => before.as_ref().and_then(|_| after.store_id.clone()),
            _ => after.store_id.clone(),
        };
        let store_in_scope = match &scope_store {
            Some(store) => {
                // A hidden document is judged by what the push wrote, as if new.
                let access = match seen.access {
                    Some(access) if !hidden => access,
                    _ => scopes.of_store(tx, store)?,
                };
                match access {
                    Access::InScope => true,
                    Access::Unheard { left_at } => {
                        if let Some(r) =
                            scope_guard::built_after_move(tx, &doc, &new, left_at, device)?
                        {
                            rejections.push(r);
                            continue;
                        }
                        true
                    }
                    Access::Out => {
                        rejections.push(scope_guard::refusal(&doc, device));
                        continue;
                    }
                }
            }
            None => privileged,
        };
        // Supervisors have every store in scope, not stores that do not exist: a task,
        // count or display about no store would be no one's. (Admins are exempt: the
        // office's import sends stores and their displays in batches in any order.)
        if device.role == Role::Supervisor
            && after.kind != DocKind::Store
            && let Some(store) = &scope_store
            && !pushed_held.contains_key(store)
            && tx.store_facts(store)?.is_none()
        {
            rejections.push(Rejection {
                doc,
                rule: "store_scope".into(),
                field: "store_id".into(),
                message: format!("`store_id` names no store: `{store}`"),
            });
            continue;
        }
        let writer = Writer {
            user: &device.user_id,
            role: device.role,
            store_in_scope,
        };
        if let Err(v) = fieldsync_core::check_write(before.as_ref(), &after, &effect, &writer) {
            rejections.push(rejection(doc, v));
            continue;
        }
        if before.is_none()
            && let Some(r) =
                store_copy::refusal(tx, &doc, &replica, after.store_id.as_deref(), &pushed_held)?
        {
            rejections.push(r);
            continue;
        }
        if hidden {
            // Writes that an unknown id would take, under an id taken outside the scope.
            rejections.push(scope_guard::refusal(&doc, device));
            continue;
        }
        let new_bytes: u64 = new.iter().map(|c| c.bytes().len() as u64).sum();
        if let Some(r) =
            quota::document_over_limit(&doc, seen.stored_bytes.saturating_add(new_bytes), quotas)
        {
            over_document_limit = true;
            rejections.push(r);
            continue;
        }
        let moved = scope_move(&doc, before.as_ref(), &after);
        staged.push(Staged {
            doc,
            replica,
            new,
            new_bytes,
            after,
            feed_index,
            photos,
            moved,
        });
    }
    if let Some(e) = read_error {
        return Err(e);
    }
    if over_document_limit {
        return Err(quota::documents_over_limit(rejections, quotas));
    }
    if !rejections.is_empty() {
        return Ok(Outcome {
            result: Err(rejections),
            replicas: Vec::new(),
        });
    }
    let pushing: u64 = staged.iter().map(|s| s.new_bytes).sum();
    if pushing > 0 && quotas.device_bytes_per_day != u64::MAX {
        let used = u64::try_from(tx.bytes_on_day(&device.device_id, day)?).unwrap_or(0);
        quota::check_daily_budget(used, pushing, quotas, now)?;
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
        for change in &s.new {
            tx.append_change(&s.doc, change, &device.device_id, now)?;
            applied += 1;
        }
        let heads = s.replica.heads();
        let added = i64::try_from(s.new_bytes).map_err(AppError::internal)?;
        tx.upsert_doc(&s.doc, &s.after, &heads, s.feed_index.as_deref(), added)?;
        // Read from the document on the worker threads (`PhotoFacts`).
        if let Some(uses) = &s.photos.uses {
            let store = s.after.store_id.as_deref().unwrap_or_default();
            tx.set_photo_uses(&s.doc, store, uses)?;
        }
        if !s.photos.claims.is_empty() {
            tx.claim_photos(&device.user_id, std::mem::take(&mut s.photos.claims))?;
        }
        if s.after.kind == DocKind::Store {
            if let (Some(territory), Some(demo)) = (&s.after.territory, s.after.demo_street) {
                tx.upsert_store(&s.doc, territory, demo)?;
            }
            if let Some(held) = pushed_held.get(&s.doc)
                && !held.is_empty()
            {
                tx.add_store_held(&s.doc, held)?;
            }
        }
        if let Some(moved) = &s.moved {
            tx.append_scope(moved, now)?;
        }
        accepted.push(Accepted {
            doc: s.doc.clone(),
            heads,
        });
    }
    if pushing > 0 {
        let pushing = i64::try_from(pushing).map_err(AppError::internal)?;
        tx.add_bytes_on_day(&device.device_id, day, pushing)?;
    }
    let mut replicas = unchanged;
    replicas.extend(staged.into_iter().map(|s| (s.doc, s.replica)));
    Ok(Outcome {
        result: Ok(Pushed { accepted, applied }),
        replicas,
    })
}

fn rejection(doc: String, v: RuleViolation) -> Rejection {
    Rejection {
        doc,
        rule: v.rule.into(),
        field: v.field,
        message: v.message,
    }
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
