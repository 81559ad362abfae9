//! fieldsync-ffi: the uniffi face of `fieldsync-core` for Android (Kotlin) and iOS (Swift).
//!
//! Only FFI types and conversions live here, no logic: every call parses its plain
//! arguments (ids as strings; instants, days and months as the custom types of `time.rs`,
//! which Kotlin sees as `java.time` types), calls the core, and turns
//! the answer into records of strings, numbers, enums and lists. No Automerge or SQLite type
//! crosses the boundary.
//!
//! - [`FieldStore`] opens the device's local store at a path with its identity; its methods
//!   are the document operations (stores, visits, shelf displays, inventory counts,
//!   complaints, rectification tasks, scorecards, any document's history) and the rule
//!   queries (R1–R5, R7, R9, open tasks, complaint clocks). They are plain blocking
//!   calls: the app runs them off the main thread (the Kotlin shim does, on
//!   `Dispatchers.IO`).
//! - [`FieldSync`] syncs a store with its server: `sync` is `async` on the tokio runtime and
//!   reports progress to a [`SyncProgressListener`].
//! - [`FieldStore::subscribe`] registers a [`DocumentsListener`] called after every write made
//!   through this store and after a sync that brought changes; the returned
//!   [`Subscription`] unsubscribes when it is dropped (closed, in Kotlin).
//! - Closed code sets (store format, visit kind, verdict, task state, ...) are enums.
//! - Concurrent edits are shown as `*Versions` records: the current value and the others,
//!   each with who wrote it and when.
//! - Every failure is one [`FieldError`]. A document received unreadable (an older server
//!   accepted it) is listed by `damaged_documents` and named by `rules_cannot_judge` beside
//!   rule answers; reading it fails with `FieldError::Damaged`.
//!
//! Bindings are generated from the compiled, unstripped library by the `uniffi-bindgen`
//! binary of this crate (`scripts/bindings`), never committed.

uniffi::setup_scaffolding!();

/// The phone's allocator, for everything the library does: mimalloc (docs/adr/0027). Android's
/// own (Scudo) hardens against misuse that safe Rust cannot commit, and costs for it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cadences;
mod changes;
mod complaint;
mod conflict;
mod damaged;
mod enroll;
mod error;
mod fetch;
mod history;
mod inventory_count;
mod lists;
mod maintenance;
mod outbox;
mod parse;
mod photo;
mod retail_store;
mod rules;
mod scorecard;
mod shelf_display;
mod store;
mod sync;
mod task;
#[cfg(test)]
mod test_support;
mod time;
mod visit;

pub use changes::{DocumentsChanged, DocumentsListener, Subscription};
pub use enroll::{EnrollmentRecord, enroll};
pub use error::FieldError;
pub use store::FieldStore;
pub use sync::{DeviceToken, FieldSync, SyncProgressListener, SyncSettings, default_sync_settings};
pub use time::{Instant, LocalDate, YearMonth};
