//! The client's side of the working set (docs/protocol.md, "The working set"): what a
//! sync request says the phone holds, and the on-demand fetch of documents outside it,
//! one round trip each.

use serde_bytes::ByteBuf;

use super::SyncClient;
use super::http::classify;
use super::photos::error_body;
use crate::error::Result;
use crate::ids::DocId;
use crate::store::FetchedStored;
use crate::sync::config::backoff;
use crate::sync::protocol::{
    self, FetchRequest, FetchResponse, MAX_WORKING_WEEKS, PROTOCOL_VERSION, WorkingSet,
};
use crate::sync::report::SyncFailure;

/// What a fetch brought: the documents stored, and what the server did not give.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    pub stored: FetchedStored,
    /// Ids asked for that are not documents of this device's scope.
    pub missing: Vec<String>,
    /// Ids of the scope that did not fit in one response (`max_response_bytes`): fetch
    /// them again.
    pub unsent: Vec<String>,
    /// A store's history goes on after this document: fetch again from it.
    pub next: Option<String>,
}

impl SyncClient {
    /// The working set a sync request asks for: the configured weeks, from the instant the
    /// phone holds everything since. A phone that holds a working set keeps asking for one
    /// even when the app no longer does (older documents never come back by themselves:
    /// the server would otherwise send changes of documents the phone does not hold).
    pub(super) async fn working_set(&self) -> Result<Option<WorkingSet>, SyncFailure> {
        let since = self.blocking(|s| s.working_since()).await?;
        Ok(match (self.config.working_weeks, since) {
            (Some(weeks), since) => Some(WorkingSet { weeks, since }),
            (None, Some(since)) => Some(WorkingSet {
                weeks: MAX_WORKING_WEEKS,
                since: Some(since),
            }),
            (None, None) => None,
        })
    }

    /// Fetches documents of this device's scope by id (up to
    /// [`MAX_FETCH_IDS`](protocol::MAX_FETCH_IDS)), whole, in one round trip, and stores
    /// them; those outside the working set stay until the `keep_fetched` rule lets them go.
    /// Those that did not fit in `max_response_bytes` are listed `unsent`.
    pub async fn fetch_documents(&self, ids: &[DocId]) -> Result<Fetched, SyncFailure> {
        self.fetch(FetchRequest {
            ids: ids.iter().map(ToString::to_string).collect(),
            ..FetchRequest::default()
        })
        .await
    }

    /// Fetches the visits and counts of `store` that happened in `[from, before)` (ms since
    /// the epoch; either bound may be left out), as many as one response holds, and stores
    /// them; `after` is the `next` of the previous call, to go on.
    pub async fn fetch_store_history(
        &self,
        store: &DocId,
        from: Option<i64>,
        before: Option<i64>,
        after: Option<String>,
    ) -> Result<Fetched, SyncFailure> {
        self.fetch(FetchRequest {
            store: Some(store.to_string()),
            from,
            before,
            after,
            ..FetchRequest::default()
        })
        .await
    }

    async fn fetch(&self, mut request: FetchRequest) -> Result<Fetched, SyncFailure> {
        request.protocol = PROTOCOL_VERSION;
        request.max_response_bytes = Some(self.config.max_response_bytes);
        let body = protocol::encode(&request);
        let url = format!("{}/v1/fetch", self.config.server_url.trim_end_matches('/'));
        // `attempt` counts the failures of the link; a retry after a rotation is not one.
        let (mut attempt, mut renewed) = (0, false);
        let answer: FetchResponse = loop {
            let token = self.current_token();
            let sent = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .header(reqwest::header::CONTENT_TYPE, protocol::CONTENT_TYPE)
                .body(body.clone())
                .send()
                .await
                .map_err(classify);
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    let bytes = response.bytes().await.map_err(classify)?;
                    if status.is_success() {
                        break protocol::decode("fetch response", &bytes).map_err(|e| {
                            SyncFailure::ServerUnavailable(format!(
                                "the answer was cut short or garbled: {e}"
                            ))
                        })?;
                    }
                    let error = error_body(status, &bytes);
                    match status.as_u16() {
                        401 => {
                            // Sent with a token a rotation replaced meanwhile: once more.
                            if !renewed && self.token_renewed_since(&token).await {
                                renewed = true;
                                continue;
                            }
                            return Err(SyncFailure::Unauthorized(error.message));
                        }
                        408 | 429 | 500..=599 => {
                            SyncFailure::ServerUnavailable(format!("{status}: {}", error.message))
                        }
                        _ => {
                            return Err(SyncFailure::Refused(format!(
                                "{status}: {}",
                                error.message
                            )));
                        }
                    }
                }
                Err(failure) => failure,
            };
            attempt += 1;
            if !failure.is_transient() || attempt >= self.config.max_attempts {
                return Err(failure);
            }
            tokio::time::sleep(backoff(&self.config, attempt)).await;
        };
        let FetchResponse {
            documents,
            missing,
            unsent,
            next,
        } = answer;
        let docs = documents
            .into_iter()
            .map(|d| {
                let id = DocId::parse("documents.doc", &d.doc)?;
                let changes = d.changes.into_iter().map(ByteBuf::into_vec).collect();
                Ok((id, changes, d.happened_at))
            })
            .collect::<Result<Vec<_>>>()
            .map_err(SyncFailure::from)?;
        let stored = self.blocking(move |s| s.store_fetched(docs)).await?;
        Ok(Fetched {
            stored,
            missing,
            unsent,
            next,
        })
    }
}
