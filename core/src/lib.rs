//! fieldsync-core: the engine inside the phone.
//!
//! Account managers, the market team and supervisors record store visits, shelf-display
//! checks, inventory counts, scorecards, rectification tasks and complaints, mostly with no
//! signal. Each record is an Automerge document (so edits made offline on several phones
//! merge per field), kept in one SQLite file per device by [`LocalStore`], with index
//! tables from which the offline rule queries of `shared/domain.md` (R1–R10) are answered.
//!
//! Use it like this: open a [`LocalStore`] with the device's [`DeviceIdentity`], create and
//! edit documents through its typed methods (`create_visit`, `check_out_visit`,
//! `mark_display_standard`, `set_counted`, ...), read them back as plain structs, and ask
//! the rule queries (`stores_due_visit`, ...). No Automerge or SQLite type appears in
//! this API; conflicts between concurrent edits are shown as [`Versions`].
//!
//! Inside, five layers depend one way, each a module of its own (`docs/architecture.md`,
//! "Layers"; ADR 0012), from the bottom:
//!
//! - `doc`: the Automerge layer: a document, stamped fields and their versions, history,
//!   saving and loading;
//! - `kinds`: one module per document kind: its schema and value rules, its typed form,
//!   its reader and its index rows (the server judges pushed documents with it too);
//! - `store`: [`LocalStore`]: SQLite, migrations, the index tables, the outbox, merging what
//!   arrives, and each kind's typed API (`store/visits.rs`, ...);
//! - `rules`: the rule queries R1–R10 over the index, and who may write what;
//! - `sync`: the protocol's messages, the phone's client and the server's replica.
//!
//! Under them all `error`, `ids`, `time` and `geo`; over them `fixtures`, for tests and
//! demos. A layer names only the layers below it (a test reads the source to hold that).

mod doc;
mod error;
pub mod fixtures;
mod geo;
mod ids;
mod kinds;
#[cfg(test)]
mod layers;
pub mod photos;
mod rules;
mod store;
mod sync;
mod time;

pub use doc::{DOC_SCHEMA_VERSION, HistoryEntry, Stamp, Versions, Written};
pub use error::{Error, Result};
pub use geo::{DEFAULT_GEOFENCE_M, Datum, GeoPoint, GpsFix};
pub use ids::{DeviceIdentity, DocId, DocKind, Role};
pub use kinds::complaint::{
    ClockState, Complaint, ComplaintEvent, ComplaintKind, EventRecord, NewComplaint,
};
pub use kinds::feed_index::FEED_INDEX_VERSION;
pub use kinds::inventory_count::{CountLine, InventoryCount, NewCountLine, NewInventoryCount};
pub use kinds::scorecard::{
    Acknowledgement, NewScorecard, ScoreDimension, ScoreWeights, Scorecard, ScorecardOutcome,
};
pub use kinds::shelf_display::{
    DisplayCheck, DisplayProduct, DisplayStandard, NewProductZone, ProductOnDisplay, ShelfDisplay,
    StandardCheck, Verdict,
};
pub use kinds::store::{
    MarketType, NewStore, STORE_FIELDS, Store, StoreClassification, StoreContact, StoreFormat,
    StoreSize, TerminalRating, ValueTier,
};
pub use kinds::store_copy::{COPIED_STORE_FIELDS, HeldValue, StoreCopy, check as check_store_copy};
pub use kinds::task::{NewTask, Task, TaskOrigin, TaskState};
pub use kinds::visit::{
    CheckPoint, NewVisit, PhotoRef, RecordedCheckPoint, TrainingActivity, Visit, VisitComment,
    VisitKind,
};
pub use kinds::{MAX_CLOCK_DRIFT_MS, RuleViolation};
pub use rules::cadences::{RequestsAnswered, SupervisionMonth};
pub use rules::error_rate::{ErrorRate, MAX_COUNT_ERROR_PERCENT};
pub use rules::month_weeks::{WeekMissed, weeks_of_month};
pub use rules::over_time::{PeriodEvents, PriceTagsOverTime};
pub use rules::store_history::StoreAt;
pub use rules::store_list::{StoreListQuery, StoreListRow, StorePage, StoreSort};
pub use rules::week_visited::WeekVisited;
pub use rules::write_rules::{DocSummary, Effect, Writer, check as check_write};
pub use rules::{
    CountFinding, DEFAULT_MIN_MONTHLY_VISITS, FollowUp, FollowUpAction, MAX_MISSING_PRICE_TAGS,
    MonthlyVisits, PriceTagFinding, StoreDue,
};
pub use store::complaints::ComplaintClocks;
pub use store::conflicts::ConflictedDocument;
pub use store::lists::{UploadState, VisitListRow};
pub use store::outbox::{OutboxCounts, OutgoingDocument, PendingDocument, Receipt};
pub use store::photo_blocked::BlockedPhoto;
pub use store::photos::{PendingPhoto, PhotoProgress};
pub use store::sqlite_plans;
pub use store::tasks::TaskDue;
pub use store::visits::MAX_AHEAD_OF_DEVICE_CLOCK_MS;
pub use store::wal_checkpoint;
pub use store::{ChangeListener, ChangeSubscription, Topics};
pub use store::{
    Clock, DamagedDocument, FetchedStored, LocalStore, ReceivedCheck, STORE_SCHEMA_VERSION,
    StoreOptions,
};
pub use sync::protocol;
pub use sync::replica::{
    IncomingChange, MAX_CHANGE_BYTES, MAX_CHANGE_OPS, MAX_DOCUMENT_OPS, Precheck, Pusher, Replica,
};
pub use sync::{
    Fetched, PhotoReport, PhotoSettings, PhotoUploadProgress, SyncClient, SyncConfig, SyncFailure,
    SyncPhase, SyncProgress, SyncReport, backoff, enroll,
};
pub use time::working_days::{DayKind, WorkingDays};
pub use time::{FieldCalendar, Timestamp};
