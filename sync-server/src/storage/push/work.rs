//! The second pass of a push: each document's stored state loaded (unless cached) and its
//! new changes applied and judged, each document on its own and in parallel for a large
//! push (the part that costs CPU and needs no transaction), the results in the push's order.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsync_core::{DocKind, DocSummary, Effect, IncomingChange, Pusher, Replica, RuleViolation};

use super::Stored;
use crate::error::{AppError, AppResult};
use crate::storage::photo_owners;
use crate::storage::photo_uses::{self, VisitPhotos};
use crate::storage::replica_cache::load_replica;

/// Documents to load or apply per worker thread: a push with fewer than twice this many is
/// worked on the calling thread alone, where a thread would cost more than it saves.
const DOCS_PER_WORKER: usize = 4;

/// One document of the push, as read in the first pass.
pub(super) struct Job {
    pub(super) doc: String,
    pub(super) stored: Stored,
    pub(super) changes: Vec<IncomingChange>,
    /// A stored document outside the device's scope: its new changes are applied to an
    /// empty document instead, and judged as an unknown id's would be.
    pub(super) hidden: bool,
}

/// A document after the second pass.
pub(super) struct Worked {
    /// The stored state (empty when the document was not read: see [`Stored::Unread`]).
    pub(super) replica: Replica,
    /// Whether `replica` is the stored state, to be kept in the cache.
    pub(super) read: bool,
    /// A hidden document's new changes build on its stored ones: the pusher held the
    /// document once (a former holder), and is refused without an answer that differs
    /// from an unknown id's.
    pub(super) builds_on_hidden: bool,
    /// The changes the document lacked; none: the push brought nothing new for it.
    pub(super) new: Vec<IncomingChange>,
    /// Unless `new` is empty: the document's summaries before and after, and what the
    /// changes did; or the error the push ends with unless the document is rejected first.
    pub(super) applied: Option<AppResult<Applied>>,
}

/// A document's summaries before and after its new changes, what they did, its index
/// rows after them (`Replica::feed_index`) and its photos; or why the document they make
/// is refused.
pub(super) type Applied = Result<
    (
        Option<DocSummary>,
        Effect,
        DocSummary,
        Option<Vec<u8>>,
        PhotoFacts,
    ),
    RuleViolation,
>;

/// What the write of a document records of its photos, read from it on the push's
/// worker threads rather than in the write's transaction.
#[derive(Debug, Default)]
pub(super) struct PhotoFacts {
    /// A visit's photos and the day of each (`photo_uses.rs`).
    pub(super) uses: Option<VisitPhotos>,
    /// The hashes the pusher references in it, which the push claims (`photo_owners.rs`).
    pub(super) claims: Vec<String>,
}

/// Loads and applies every job, in parallel when there are enough of them; the results are
/// in the jobs' order.
pub(super) fn work_all(jobs: Vec<Job>, pusher: &Pusher<'_>) -> Vec<AppResult<Worked>> {
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
        hidden,
    } = job;
    let (mut replica, read) = match stored {
        Stored::Cached(replica) => (*replica, true),
        Stored::Changes(changes) => (load_replica(&doc, &changes)?, true),
        Stored::Unread => (load_replica(&doc, &[])?, false),
    };
    let mut seen = HashSet::new();
    let new: Vec<IncomingChange> = changes
        .into_iter()
        .filter(|c| seen.insert(c.hash()) && !replica.has_change(&c.hash()))
        .collect();
    // Stored and logged in this order: a device reading the log a page at a time gets each
    // change after those it builds on, whatever order the pusher sent them in.
    let new = IncomingChange::in_causal_order(new);
    // Changes to a hidden document are applied to an empty one, as an unknown id's would be,
    // unless they build on its stored changes (which only someone who held it can name).
    let builds_on_hidden = hidden
        && new
            .iter()
            .any(|c| c.deps().iter().any(|d| replica.has_change(d)));
    let applied = (!new.is_empty() && !builds_on_hidden).then(|| {
        if hidden {
            apply(&doc, &mut load_replica(&doc, &[])?, &new, pusher)
        } else {
            apply(&doc, &mut replica, &new, pusher)
        }
    });
    Ok(Worked {
        replica,
        read,
        builds_on_hidden,
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
    // Derived here, on the push's worker threads, from the document just judged.
    let feed_index = replica.feed_index();
    let photos = PhotoFacts {
        uses: (after.kind == DocKind::Visit).then(|| photo_uses::of_replica(replica)),
        claims: if photo_owners::has_photos(after.kind) {
            photo_owners::claims(replica, pusher.user)
        } else {
            Vec::new()
        },
    };
    Ok(Ok((before, effect, after, feed_index, photos)))
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use fieldsync_core::DocId;

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
                    hidden: false,
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
