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

mod complaint;
mod doc;
mod error;
mod error_rate;
pub mod fixtures;
mod gcj02;
mod geo;
mod ids;
mod inventory_count;
mod kinds;
mod local_store;
mod outbox;
pub mod protocol;
mod replica;
mod retail_store;
mod rules;
mod scorecard;
mod shelf_display;
pub mod sqlite_plans;
mod sync_client;
mod task;
mod time;
mod visit;
mod working_days;
mod write_rules;

pub use complaint::{
    ClockState, Complaint, ComplaintClocks, ComplaintEvent, ComplaintKind, EventRecord,
    NewComplaint,
};
pub use doc::{DOC_SCHEMA_VERSION, HistoryEntry, Stamp, Versions, Written};
pub use error::{Error, Result};
pub use error_rate::{ErrorRate, MAX_COUNT_ERROR_PERCENT};
pub use geo::{DEFAULT_GEOFENCE_M, Datum, GeoPoint, GpsFix};
pub use ids::{DeviceIdentity, DocId, DocKind};
pub use inventory_count::{CountLine, InventoryCount, NewCountLine, NewInventoryCount};
pub use kinds::MAX_CLOCK_DRIFT_MS;
pub use local_store::{Clock, LocalStore, STORE_SCHEMA_VERSION, StoreOptions};
pub use outbox::{OutgoingDocument, PendingDocument, Receipt};
pub use replica::{IncomingChange, Pusher, Replica};
pub use retail_store::{
    MarketType, NewStore, STORE_FIELDS, Store, StoreClassification, StoreContact, StoreFormat,
    StoreSize, TerminalRating, ValueTier,
};
pub use rules::{
    CountFinding, DEFAULT_MIN_MONTHLY_VISITS, FollowUp, FollowUpAction, MAX_MISSING_PRICE_TAGS,
    MonthlyVisits, PriceTagFinding, StoreDue,
};
pub use scorecard::{
    Acknowledgement, NewScorecard, ScoreDimension, ScoreWeights, Scorecard, ScorecardOutcome,
};
pub use shelf_display::{
    DisplayCheck, DisplayProduct, DisplayStandard, NewProductZone, ProductOnDisplay, ShelfDisplay,
    StandardCheck, Verdict,
};
pub use sync_client::{
    SyncClient, SyncConfig, SyncFailure, SyncPhase, SyncProgress, SyncReport, backoff,
};
pub use task::{NewTask, Task, TaskDue, TaskOrigin, TaskState};
pub use time::{FieldCalendar, Timestamp};
pub use visit::{
    CheckPoint, MAX_AHEAD_OF_DEVICE_CLOCK_MS, NewVisit, PhotoRef, RecordedCheckPoint,
    TrainingActivity, Visit, VisitComment, VisitKind,
};
pub use working_days::{DayKind, WorkingDays};
pub use write_rules::{DocSummary, Effect, Role, RuleViolation, Writer, check as check_write};
