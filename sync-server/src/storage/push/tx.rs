//! What a push needs from a backend's open write transaction ([`PushTx`]), and the rows it
//! reads and writes through it: a document as stored when the push begins ([`Stored`]) and
//! the scope rows of stores that moved ([`ScopeMove`], [`ScopeRow`]).

use fieldsync_core::{DocSummary, HeldValue, IncomingChange, Replica};

use crate::error::AppResult;
use crate::storage::photo_uses::VisitPhotos;
use crate::storage::scope_guard::DocRow;

/// A scope row of the log: a store that moved between territories or on/off the demo street.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeMove {
    pub store: String,
    pub old_territory: Option<String>,
    pub new_territory: String,
    pub old_demo: Option<bool>,
    pub new_demo: bool,
}

/// A scope row of the log as a push reads it back: where it is, and the move it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeRow {
    pub seq: i64,
    /// When the server logged the move (its clock, milliseconds).
    pub at: i64,
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
    /// Not read: a document outside the device's scope that the push brings nothing for.
    Unread,
}

/// What [`run`] needs from a backend's open write transaction.
pub trait PushTx {
    /// What the backend stores about a document, if it has it.
    fn doc_row(&mut self, doc: &str) -> AppResult<Option<DocRow>>;
    /// The document as stored now; `heads` are its stored heads from [`PushTx::doc_row`].
    fn stored(&mut self, doc: &str, heads: Option<&str>) -> AppResult<Stored>;
    /// The device an Automerge actor is bound to, if any.
    fn actor_owner(&mut self, actor: &str) -> AppResult<Option<String>>;
    /// A store's territory and demo-street flag.
    fn store_facts(&mut self, store: &str) -> AppResult<Option<(String, bool)>>;
    /// Every scope row of `store`, in any order.
    fn scope_moves(&mut self, store: &str) -> AppResult<Vec<ScopeRow>>;
    /// The last log position the server recorded handing to the device in a feed response
    /// (exact at every scope row: see `feed/left.rs`); 0 for none.
    fn handed(&mut self, device: &str) -> AppResult<i64>;
    /// Hashes of the stored changes of `doc` logged after position `seq`.
    fn hashes_after(&mut self, doc: &str, seq: i64) -> AppResult<Vec<String>>;
    /// Bytes of changes the device stored on UTC day `day` (see
    /// [`quota::day_of`](crate::storage::quota::day_of)). A backend with several writers
    /// locks the device's count until commit.
    fn bytes_on_day(&mut self, device: &str, day: i64) -> AppResult<i64>;
    /// Adds `bytes` to what the device stored on `day`.
    fn add_bytes_on_day(&mut self, device: &str, day: i64, bytes: i64) -> AppResult<()>;
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
    /// Records a document's summary and heads with the index rows derived at those heads
    /// (see `Replica::feed_index`), and adds `added_bytes` to its size.
    fn upsert_doc(
        &mut self,
        doc: &str,
        summary: &DocSummary,
        heads: &[String],
        feed_index: Option<&[u8]>,
        added_bytes: i64,
    ) -> AppResult<()>;
    fn upsert_store(&mut self, store: &str, territory: &str, demo_street: bool) -> AppResult<()>;
    /// Every value the copied fields of `store` have held (see [`fieldsync_core::StoreCopy`]).
    fn store_held(&mut self, store: &str) -> AppResult<Vec<HeldValue>>;
    /// Records values the copied fields of `store` hold (those already recorded are kept).
    fn add_store_held(&mut self, store: &str, values: &[HeldValue]) -> AppResult<()>;
    fn append_scope(&mut self, moved: &ScopeMove, at: i64) -> AppResult<()>;
    /// Replaces the photos `visit` uses with `photos` (see `photo_uses.rs`).
    fn set_photo_uses(&mut self, visit: &str, store: &str, photos: &VisitPhotos) -> AppResult<()>;
    /// Records `user` as the owner of each of `hashes` not owned yet (see `photo_owners.rs`).
    fn claim_photos(&mut self, user: &str, hashes: Vec<String>) -> AppResult<()>;
}
