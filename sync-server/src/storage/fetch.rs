//! The on-demand fetch, whatever the backend: documents of a device's scope, whole, by id
//! or from a store's history, read from one snapshot (docs/protocol.md, "Fetching on
//! demand").
//!
//! What lies outside a device's scope is answered as what does not exist: an id is listed
//! `missing` either way, and a store's history is refused with the same sentence, so that
//! a fetch cannot tell whether another territory's document or store exists.

use fieldsync_core::DocId;
use fieldsync_core::protocol::{FetchRequest, FetchResponse, FetchedDoc, MAX_FETCH_IDS};
use serde_bytes::ByteBuf;

use super::DeviceInfo;
use crate::error::{AppError, AppResult};

/// A fetch request, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchAsk {
    /// These documents (1 to [`MAX_FETCH_IDS`], each once).
    Ids(Vec<String>),
    /// The visits and counts about `store` that happened in `[from, before)`, in id order
    /// after `after` (`""`: from the first).
    History {
        store: String,
        from: i64,
        before: i64,
        after: String,
    },
}

impl FetchAsk {
    /// Checks a request: either `ids`, or `store` with its optional bounds; every id a
    /// document id; `from` before `before`.
    pub fn of(request: &FetchRequest) -> AppResult<FetchAsk> {
        let bad = |m: String| Err(AppError::BadRequest(m));
        match (&request.store, request.ids.is_empty()) {
            (Some(_), false) => bad("a fetch names either `ids` or a `store`, not both".into()),
            (None, true) => bad("a fetch names `ids` (1 to 100 documents) or a `store`".into()),
            (None, false) => {
                if request.from.is_some() || request.before.is_some() || request.after.is_some() {
                    return bad(
                        "`from`, `before` and `after` go with a `store`, not with `ids`".into(),
                    );
                }
                if request.ids.len() > MAX_FETCH_IDS {
                    return Err(AppError::TooLarge(format!(
                        "{} ids in one fetch; the limit is {MAX_FETCH_IDS}",
                        request.ids.len()
                    )));
                }
                let mut ids: Vec<String> = Vec::with_capacity(request.ids.len());
                for id in &request.ids {
                    let id = DocId::parse_exact("ids", id)?.to_string();
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Ok(FetchAsk::Ids(ids))
            }
            (Some(store), true) => {
                let store = DocId::parse_exact("store", store)?.to_string();
                let after = match &request.after {
                    Some(after) => DocId::parse_exact("after", after)?.to_string(),
                    None => String::new(),
                };
                let (from, before) = (
                    request.from.unwrap_or(i64::MIN),
                    request.before.unwrap_or(i64::MAX),
                );
                if from >= before {
                    return bad(format!(
                        "`from` ({from}) must come before `before` ({before})"
                    ));
                }
                Ok(FetchAsk::History {
                    store,
                    from,
                    before,
                    after,
                })
            }
        }
    }
}

/// What [`read`] needs from a backend's read snapshot.
pub trait FetchTx {
    /// The cursor of the last row in the snapshot.
    fn end(&mut self) -> AppResult<i64>;
    /// Whether `id` is a document in the device's scope, and if so when it happened (for a
    /// visit or count that has the value).
    fn scoped(&mut self, device: &DeviceInfo, id: &str) -> AppResult<Option<Option<i64>>>;
    /// Up to `limit` visits and counts about `store` in the device's scope that happened
    /// at or after `from` and before `before` (those that have the value), with ids after
    /// `after`, in id order, as (document, when it happened).
    fn history(
        &mut self,
        device: &DeviceInfo,
        store: &str,
        range: (i64, i64),
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<(String, Option<i64>)>>;
    /// Every change of `doc` with `seq <= upto`, oldest first.
    fn changes_of(&mut self, doc: &str, upto: i64) -> AppResult<Vec<Vec<u8>>>;
}

/// Documents of a store's history read per query.
const HISTORY_PAGE: i64 = 64;

/// Answers `ask` for `device` from one snapshot, up to about `max_bytes` of changes (at
/// least one document).
pub fn read(
    tx: &mut impl FetchTx,
    device: &DeviceInfo,
    ask: &FetchAsk,
    max_bytes: usize,
) -> AppResult<FetchResponse> {
    let upto = tx.end()?;
    let mut answer = FetchResponse::default();
    let mut bytes = 0usize;
    match ask {
        FetchAsk::Ids(ids) => {
            for id in ids {
                match tx.scoped(device, id)? {
                    Some(_) if bytes >= max_bytes && !answer.documents.is_empty() => {
                        answer.unsent.push(id.clone());
                    }
                    Some(happened_at) => {
                        let doc = whole(tx, id, happened_at, upto)?;
                        bytes += doc.changes.iter().map(|c| c.len()).sum::<usize>();
                        answer.documents.push(doc);
                    }
                    None => answer.missing.push(id.clone()),
                }
            }
        }
        FetchAsk::History {
            store,
            from,
            before,
            after,
        } => {
            if tx.scoped(device, store)?.is_none() {
                return Err(AppError::NotFound(format!(
                    "no store `{store}` in this device's scope"
                )));
            }
            let mut after = after.clone();
            // Bounded: each round moves `after` past every document it read, or ends.
            loop {
                let page = tx.history(device, store, (*from, *before), &after, HISTORY_PAGE)?;
                let full = page.len() as i64 == HISTORY_PAGE;
                for (id, happened_at) in page {
                    if bytes >= max_bytes && !answer.documents.is_empty() {
                        answer.next = Some(after);
                        return Ok(answer);
                    }
                    let doc = whole(tx, &id, happened_at, upto)?;
                    bytes += doc.changes.iter().map(|c| c.len()).sum::<usize>();
                    answer.documents.push(doc);
                    after = id;
                }
                if !full {
                    return Ok(answer);
                }
            }
        }
    }
    Ok(answer)
}

fn whole(
    tx: &mut impl FetchTx,
    id: &str,
    happened_at: Option<i64>,
    upto: i64,
) -> AppResult<FetchedDoc> {
    Ok(FetchedDoc {
        doc: id.to_owned(),
        changes: tx
            .changes_of(id, upto)?
            .into_iter()
            .map(ByteBuf::from)
            .collect(),
        happened_at,
    })
}
