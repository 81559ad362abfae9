//! A push's documents and changes, parsed from the request: every change checked as one
//! valid Automerge change (`IncomingChange::parse`), on all cores for a large push, off
//! the async runtime's threads.
//!
//! Which error a bad push is answered with does not depend on the threads: the first bad
//! document id or change in the request's order, as parsing them one after the other
//! would give.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use fieldsync_core::protocol::DocChanges;
use fieldsync_core::{DocId, IncomingChange};

use crate::error::{AppError, AppResult};

/// Changes parsed per thread: a push with fewer than twice this many is parsed on one.
const CHANGES_PER_THREAD: usize = 128;

/// The most operations and predecessors a push's changes may list together: a week
/// offline is about 15,000, a catch-up's full push (5,000 changes) a few hundred thousand;
/// Automerge walks each one to verify its change.
pub const MAX_PUSH_OPS: u64 = 2_000_000;

/// Parses `push` into its documents and their changes, a document listed twice merged
/// into one (in the order it was first listed). The changes may hold at most `max_bytes`
/// once inflated (a compressed change of a few kilobytes may inflate to megabytes, and
/// parsing keeps every change inflated): checked before any is parsed.
pub async fn parse(
    push: Vec<DocChanges>,
    max_bytes: usize,
) -> AppResult<Vec<(DocId, Vec<IncomingChange>)>> {
    tokio::task::spawn_blocking(move || parse_now(push, max_bytes as u64))
        .await
        .map_err(AppError::internal)?
}

fn parse_now(
    push: Vec<DocChanges>,
    max_bytes: u64,
) -> AppResult<Vec<(DocId, Vec<IncomingChange>)>> {
    // What parsing will cost, read first, in the request's order: the first bad id or
    // change is named, and a push whose changes would inflate past `max_bytes` or list more
    // than `MAX_PUSH_OPS` operations is refused before Automerge reads any of them.
    let mut ids = Vec::with_capacity(push.len());
    let (mut inflated, mut ops) = (0u64, 0u64);
    for entry in &push {
        let id = DocId::parse_exact("push.doc", &entry.doc)?;
        for change in &entry.changes {
            let cost = IncomingChange::precheck(change)
                .map_err(|e| AppError::BadRequest(format!("document `{id}`: {e}")))?;
            inflated = inflated.saturating_add(cost.inflated);
            ops = ops.saturating_add(cost.ops);
            if inflated > max_bytes {
                return Err(AppError::TooLarge(format!(
                    "the push's changes inflate past {max_bytes} bytes (send them in several pushes)"
                )));
            }
            if ops > MAX_PUSH_OPS {
                return Err(AppError::TooLarge(format!(
                    "the push's changes list more than {MAX_PUSH_OPS} operations (send them in several pushes)"
                )));
            }
        }
        ids.push(id);
    }
    let bytes: Vec<&[u8]> = push
        .iter()
        .flat_map(|entry| entry.changes.iter().map(|c| c.as_ref()))
        .collect();
    let mut parsed = parse_all(&bytes).into_iter();
    let mut docs: Vec<(DocId, Vec<IncomingChange>)> = Vec::with_capacity(push.len());
    let mut listed: HashMap<DocId, usize> = HashMap::with_capacity(push.len());
    for (entry, id) in push.iter().zip(ids) {
        let changes = parsed
            .by_ref()
            .take(entry.changes.len())
            .map(|c| c.map_err(|e| AppError::BadRequest(format!("document `{id}`: {e}"))))
            .collect::<AppResult<Vec<_>>>()?;
        // A document listed twice is one document: storage applies each entry to the
        // replica it had before the push, so two entries would store a change twice.
        match listed.get(&id).and_then(|&i| docs.get_mut(i)) {
            Some((_, earlier)) => earlier.extend(changes),
            None => {
                listed.insert(id.clone(), docs.len());
                docs.push((id, changes));
            }
        }
    }
    Ok(docs)
}

/// Each of `bytes` parsed, in order; on several threads when there are enough.
fn parse_all(bytes: &[&[u8]]) -> Vec<fieldsync_core::Result<IncomingChange>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(bytes.len() / CHANGES_PER_THREAD)
        .max(1);
    if threads == 1 {
        return bytes.iter().map(|b| IncomingChange::parse(b)).collect();
    }
    let share = bytes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let helpers: Vec<_> = bytes
            .chunks(share)
            .skip(1)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|b| IncomingChange::parse(b))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = bytes
            .chunks(share)
            .next()
            .unwrap_or_default()
            .iter()
            .map(|b| IncomingChange::parse(b))
            .collect();
        for helper in helpers {
            match helper.join() {
                Ok(part) => all.extend(part),
                // A panic stays a panic, as if this thread had parsed that part itself.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;

    use super::*;

    /// `n` valid changes of one document, each its own.
    fn changes(n: usize) -> Vec<Vec<u8>> {
        let mut doc = automerge::AutoCommit::new();
        (0..n)
            .map(|i| {
                doc.put(automerge::ROOT, "n", i as i64).expect("put");
                doc.commit();
                doc.get_last_local_change()
                    .expect("a change")
                    .raw_bytes()
                    .to_vec()
            })
            .collect()
    }

    fn entry(doc: &DocId, changes: Vec<Vec<u8>>) -> DocChanges {
        DocChanges {
            doc: doc.to_string(),
            changes: changes.into_iter().map(Into::into).collect(),
            index: None,
        }
    }

    #[test]
    fn a_large_push_parsed_on_several_threads_keeps_its_order_and_its_first_error() {
        let (a, b) = (DocId::new(), DocId::new());
        let mut many = changes(700);
        let later_part = many.split_off(400);
        let parsed = parse_now(
            vec![entry(&a, many.clone()), entry(&b, later_part.clone())],
            u64::MAX,
        )
        .expect("a valid push");
        let hashes = |c: &[IncomingChange]| c.iter().map(IncomingChange::hash).collect::<Vec<_>>();
        let expected = |bytes: &[Vec<u8>]| {
            bytes
                .iter()
                .map(|b| IncomingChange::parse(b).expect("valid").hash())
                .collect::<Vec<_>>()
        };
        assert_eq!(parsed.len(), 2);
        assert_eq!(hashes(&parsed[0].1), expected(&many));
        assert_eq!(hashes(&parsed[1].1), expected(&later_part));

        // Two bad changes, in the second document and then the first's last third: the
        // answer names the one that comes first in the request.
        let mut first = many.clone();
        first[350] = b"not a change".to_vec();
        let mut second = later_part.clone();
        second[10] = b"nor this".to_vec();
        let error =
            parse_now(vec![entry(&a, first), entry(&b, second)], u64::MAX).expect_err("refused");
        assert!(
            error.to_string().contains(&format!("document `{a}`")),
            "{error}"
        );
    }

    #[test]
    fn a_pushed_id_in_another_spelling_is_a_bad_request_naming_its_canonical_form() {
        let id = DocId::new();
        let upper = DocChanges {
            doc: id.as_str().to_uppercase(),
            changes: changes(1).into_iter().map(Into::into).collect(),
            index: None,
        };
        let error = parse_now(vec![upper], u64::MAX).expect_err("not canonical");
        assert!(matches!(error, AppError::BadRequest(_)), "{error}");
        assert!(error.to_string().contains(&format!("`{id}`")), "{error}");
    }
}
