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

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsync_core::protocol::{Accepted, Rejection};
use fieldsync_core::{
    DocId, DocKind, DocSummary, Effect, IncomingChange, Pusher, Replica, Role, RuleViolation,
    Writer,
};

use super::replica_cache::load_replica;
use super::{DeviceInfo, PushResult, Pushed};
use crate::error::{AppError, AppResult};

/// How long a device may still write documents of a store that left its scope: edits it
/// made offline before the move are accepted, not lost.
pub const SCOPE_GRACE_MS: i64 = 30 * 24 * 3_600_000;

/// Documents to load or apply per worker thread: a push with fewer than twice this many is
/// worked on the calling thread alone, where a thread would cost more than it saves.
const DOCS_PER_WORKER: usize = 4;

/// A scope row of the log: a store that moved between territories or on/off the demo street.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMove {
    pub store: String,
    pub old_territory: Option<String>,
    pub new_territory: String,
    pub old_demo: Option<bool>,
    pub new_demo: bool,
}

/// A document as its backend holds it when a push begins.
pub enum Stored {
    /// The cached replica, taken out of the cache: its heads are the stored heads.
    Cached(Box<Replica>),
    /// The stored changes, oldest first, for the push to load (none: a new document).
    Changes(Vec<Vec<u8>>),
}

/// What [`run`] needs from a backend's open write transaction.
pub trait PushTx {
    /// The document as stored now.
    fn stored(&mut self, doc: &str) -> AppResult<Stored>;
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
        change: &IncomingChange,
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

/// One document of the push, as read in the first pass.
struct Job {
    doc: String,
    stored: Stored,
    changes: Vec<IncomingChange>,
}

/// A document after the second pass.
struct Worked {
    replica: Replica,
    /// The changes the document lacked; none: the push brought nothing new for it.
    new: Vec<IncomingChange>,
    /// Unless `new` is empty: the document's summaries before and after, and what the
    /// changes did; or the error the push ends with unless the document is rejected first.
    applied: Option<AppResult<Applied>>,
}

/// A document's summaries before and after its new changes, and what they did; or why the
/// document they make is refused.
type Applied = Result<(Option<DocSummary>, Effect, DocSummary), RuleViolation>;

/// Judges and writes a device's push inside the backend's transaction.
pub fn run(
    tx: &mut impl PushTx,
    device: &DeviceInfo,
    docs: Vec<(DocId, Vec<IncomingChange>)>,
    now: i64,
) -> AppResult<Outcome> {
    // A read that fails ends the push once the documents before it are judged, as it would
    // have if each document were read, applied and judged before the next one is read.
    let mut jobs = Vec::with_capacity(docs.len());
    let mut read_error = None;
    for (doc_id, changes) in docs {
        let doc = doc_id.to_string();
        match tx.stored(&doc) {
            Ok(stored) => jobs.push(Job {
                doc,
                stored,
                changes,
            }),
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

    let mut staged: Vec<Staged> = Vec::new();
    let mut unchanged: Vec<(String, Replica)> = Vec::new();
    let mut rejections: Vec<Rejection> = Vec::new();
    let mut accepted: Vec<Accepted> = Vec::new();
    for (doc, worked) in docs.into_iter().zip(worked) {
        let Worked {
            mut replica,
            new,
            applied,
        } = worked?;
        let Some(result) = applied else {
            accepted.push(Accepted {
                doc: doc.clone(),
                heads: replica.heads(),
            });
            unchanged.push((doc, replica));
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
        let (before, effect, after) = match result? {
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
            rejections.push(rejection(doc, v));
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
    if let Some(e) = read_error {
        return Err(e);
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
        for change in &s.new {
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

/// Loads and applies every job, in parallel when there are enough of them; the results are
/// in the jobs' order.
fn work_all(jobs: Vec<Job>, pusher: &Pusher<'_>) -> Vec<AppResult<Worked>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(jobs.len() / DOCS_PER_WORKER)
        .max(1);
    work_on(jobs, workers, pusher)
}

fn work_on(jobs: Vec<Job>, workers: usize, pusher: &Pusher<'_>) -> Vec<AppResult<Worked>> {
    if workers <= 1 {
        return jobs.into_iter().map(|j| work(j, pusher)).collect();
    }
    let count = jobs.len();
    let slots: Vec<Mutex<Option<Job>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let next = AtomicUsize::new(0);
    // Each worker takes the next job not taken yet, so that a document with a long history
    // does not hold up a share of the others behind it.
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(i) else {
                return done;
            };
            // Never contended (each index is taken once), never poisoned (nothing panics
            // while holding it).
            let job = slot.lock().ok().and_then(|mut s| s.take());
            if let Some(job) = job {
                done.push((i, work(job, pusher)));
            }
        }
    };
    let mut results: Vec<Option<AppResult<Worked>>> = (0..count).map(|_| None).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(worker)).collect();
        let mut done = worker();
        for helper in helpers {
            match helper.join() {
                Ok(theirs) => done.extend(theirs),
                // A panic stays a panic, as if this thread had worked the job itself.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, result) in done {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(AppError::internal(
                    "a document of the push was not worked on",
                ))
            })
        })
        .collect()
}

/// Loads one document (unless cached), keeps the changes it lacks and applies them.
fn work(job: Job, pusher: &Pusher<'_>) -> AppResult<Worked> {
    let Job {
        doc,
        stored,
        changes,
    } = job;
    let mut replica = match stored {
        Stored::Cached(replica) => *replica,
        Stored::Changes(changes) => load_replica(&doc, &changes)?,
    };
    let mut seen = HashSet::new();
    let new: Vec<IncomingChange> = changes
        .into_iter()
        .filter(|c| seen.insert(c.hash()) && !replica.has_change(&c.hash()))
        .collect();
    let applied = (!new.is_empty()).then(|| apply(&doc, &mut replica, &new, pusher));
    Ok(Worked {
        replica,
        new,
        applied,
    })
}

/// Applies `new` to the replica and judges the document it makes; the document's
/// summaries before and after, and the effect.
fn apply(
    doc: &str,
    replica: &mut Replica,
    new: &[IncomingChange],
    pusher: &Pusher<'_>,
) -> AppResult<Applied> {
    let before = replica.summary()?;
    let effect = match replica
        .apply_for_rules(new, before.as_ref(), pusher)
        .map_err(|e| AppError::BadRequest(format!("document `{doc}`: {e}")))?
    {
        Ok(effect) => effect,
        Err(v) => return Ok(Err(v)),
    };
    let after = replica
        .summary()?
        .ok_or_else(|| AppError::BadRequest(format!("document `{doc}` has no content")))?;
    Ok(Ok((before, effect, after)))
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

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;

    /// Jobs for `docs`, each with one change that writes no `kind` (applying it fails,
    /// naming the document), except every fifth, which brings nothing.
    fn jobs(docs: &[String]) -> Vec<Job> {
        docs.iter()
            .enumerate()
            .map(|(n, doc)| {
                let mut am = automerge::AutoCommit::new();
                am.put(automerge::ROOT, "n", n as i64).expect("put");
                let changes = if n % 5 == 0 {
                    Vec::new()
                } else {
                    let mut change = am.get_changes(&[]).pop().expect("a change");
                    vec![IncomingChange::parse(&change.bytes()).expect("one change")]
                };
                Job {
                    doc: doc.clone(),
                    stored: Stored::Changes(Vec::new()),
                    changes,
                }
            })
            .collect()
    }

    /// What a worked job says: its document unchanged, or the error applying it gave.
    fn said(result: AppResult<Worked>) -> String {
        match result {
            Ok(Worked { applied: None, .. }) => "unchanged".into(),
            Ok(Worked {
                applied: Some(result),
                ..
            }) => match result {
                Ok(Ok(_)) => "applied".into(),
                Ok(Err(v)) => format!("{}: {}", v.rule, v.message),
                Err(e) => e.to_string(),
            },
            Err(e) => format!("not loaded: {e}"),
        }
    }

    #[test]
    fn documents_worked_on_several_threads_come_back_in_the_order_sent() {
        let docs: Vec<String> = (0..37).map(|_| DocId::new().to_string()).collect();
        let pusher = Pusher {
            user: "am-li",
            received_at: 1_800_000_000_000,
        };
        let one: Vec<String> = work_on(jobs(&docs), 1, &pusher)
            .into_iter()
            .map(said)
            .collect();
        for (n, (doc, said)) in docs.iter().zip(&one).enumerate() {
            if n % 5 == 0 {
                assert_eq!(said, "unchanged");
            } else {
                assert!(said.contains(doc.as_str()), "{said} names {doc}");
            }
        }
        let many: Vec<String> = work_on(jobs(&docs), 4, &pusher)
            .into_iter()
            .map(said)
            .collect();
        assert_eq!(
            many, one,
            "four threads, the same results in the same order"
        );
    }
}
