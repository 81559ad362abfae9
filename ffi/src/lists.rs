//! The lists an app's screens show, read from the index tables only, and the watch that
//! says when to read one again.
//!
//! [`FieldStore::watch`] registers a [`ChangesListener`] for the topics a list reads
//! ([`FieldStore::topics_of`]); it hears the new change version after every committed
//! transaction that touched one of them: a write through this store, a sync's merge, a
//! receipt turning to uploading. Nothing is queued per listener, so nothing is dropped: a
//! listener that hands the news to a conflated channel (the Kotlin shim does) always reads
//! after the last change. Listeners are called on the writing thread, which still holds
//! the store: hand the news on and return, never call the store from the listener.

use std::sync::Arc;

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::history::DocumentKind;
use crate::parse::{self, same_variants};
use crate::retail_store::{MarketType, StoreFormat, StoreSize, TerminalRating, ValueTier};
use crate::rules::FollowUpAction;
use crate::store::FieldStore;
use crate::time::{Instant, LocalDate};
use crate::visit::VisitKind;

/// What a list reads, so a screen knows when to read it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeTopic {
    Stores,
    Visits,
    ShelfDisplays,
    InventoryCounts,
    Tasks,
    Complaints,
    Scorecards,
    /// Saved on the phone, uploading, on the server, refused.
    Uploads,
    /// Records received unreadable.
    Damaged,
    /// The sync's own state (last synced, cursor).
    SyncState,
    /// Any document's stored state: every edit and every merge.
    Documents,
}

/// The lists of [`FieldStore::topics_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LiveList {
    StoreList,
    VisitsOfDay,
    DamagedDocuments,
    Receipts,
    DocumentsInConflict,
}

/// Implemented by the app: told the new change version after a change to what it watches.
#[uniffi::export(callback_interface)]
pub trait ChangesListener: Send + Sync {
    fn on_changed(&self, version: i64);
}

/// A registered [`ChangesListener`]; dropping (closing) it or `cancel()` unsubscribes.
#[derive(Debug, uniffi::Object)]
pub struct Watch {
    subscription: fc::ChangeSubscription,
}

#[uniffi::export]
impl Watch {
    /// Unsubscribes now; later calls do nothing.
    pub fn cancel(&self) {
        self.subscription.cancel();
    }
}

/// Where the local edits of a record, or of every record about a store, stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UploadState {
    OnServer,
    SavedOnPhone,
    Uploading,
    /// The server refused (one of) them: the user must look.
    Rejected,
}
same_variants!(
    UploadState,
    fc::UploadState,
    OnServer,
    SavedOnPhone,
    Uploading,
    Rejected
);

/// The order of a store list; every order ends with the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StoreSort {
    Name,
    /// Something due first, then the longest unvisited.
    DueFirst,
    /// The longest unvisited first (never visited first).
    LastVisit,
    MissingTags,
    OpenTasks,
}
same_variants!(
    StoreSort,
    fc::StoreSort,
    Name,
    DueFirst,
    LastVisit,
    MissingTags,
    OpenTasks
);

/// Which stores to list, in which order, which page. Every field has a default: the
/// user's own territory, today, every store by name, the first 50.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreListQuery {
    /// The territory by its account manager's user id; null: this user's.
    #[uniffi(default)]
    pub territory: Option<String>,
    /// The day the dues are judged on; null: today.
    #[uniffi(default)]
    pub day: Option<LocalDate>,
    /// Part of the name or licence number.
    #[uniffi(default)]
    pub search: Option<String>,
    /// Only stores with a visit (R1), a demo-street check (R5) or a follow-up (R7) due.
    #[uniffi(default = false)]
    pub only_due: bool,
    #[uniffi(default = false)]
    pub only_demo_street: bool,
    #[uniffi(default = false)]
    pub only_functional_terminals: bool,
    /// Only stores breaking R2 (more than 3 missing price tags).
    #[uniffi(default = false)]
    pub only_missing_tags: bool,
    #[uniffi(default = false)]
    pub only_with_open_tasks: bool,
    #[uniffi(default = false)]
    pub only_not_on_server: bool,
    /// Null: by name.
    #[uniffi(default)]
    pub sort: Option<StoreSort>,
    #[uniffi(default = 0)]
    pub offset: i32,
    #[uniffi(default = 50)]
    pub limit: i32,
}

/// One store of the list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreListRecord {
    pub id: String,
    pub name: String,
    pub licence: String,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    /// The account manager's latest check-in.
    pub last_visit: Option<Instant>,
    /// R1: not visited by the account manager this week.
    pub visit_due: bool,
    /// R5: a demo-street store not checked by the account manager today.
    pub demo_check_due: bool,
    /// R7: the follow-up still needed this period.
    pub follow_up_due: Option<FollowUpAction>,
    /// Products missing a price tag; null without a shelf display.
    pub missing_price_tags: Option<i32>,
    pub open_tasks: i32,
    pub upload: UploadState,
    pub documents_not_on_server: i32,
}

/// A page of the store list, and how many stores the whole list holds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StorePage {
    pub rows: Vec<StoreListRecord>,
    pub total: i32,
    pub offset: i32,
}

/// A record with fields two people set at once: read it through its kind to see both
/// values (`*Versions`), and write the field again to resolve it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictedRecord {
    pub id: String,
    pub kind: DocumentKind,
    pub store_id: Option<String>,
    pub store_name: Option<String>,
    /// Paths of the fields in conflict (`standard.price_tags`, `counted.sku-104`).
    pub fields: Vec<String>,
}

/// A visit of a day's list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitListRecord {
    pub id: String,
    pub store_id: String,
    pub store_name: String,
    pub kind: VisitKind,
    pub check_in: Instant,
    pub check_out: Option<Instant>,
    pub in_range: Option<bool>,
    pub upload: UploadState,
}

#[uniffi::export]
impl FieldStore {
    /// Calls `listener` with the new change version after every committed change to one of
    /// `topics`, until the returned watch is closed or cancelled.
    pub fn watch(
        &self,
        topics: Vec<ChangeTopic>,
        listener: Box<dyn ChangesListener>,
    ) -> Arc<Watch> {
        let listener: Arc<dyn ChangesListener> = Arc::from(listener);
        let subscription = self
            .core
            .subscribe_changes(core_topics(&topics), move |_, version| {
                listener.on_changed(i64::try_from(version).unwrap_or(i64::MAX));
            });
        Arc::new(Watch { subscription })
    }

    /// The version of the latest change to one of `topics` (0: none since opening).
    pub fn change_version(&self, topics: Vec<ChangeTopic>) -> i64 {
        i64::try_from(self.core.change_version(core_topics(&topics))).unwrap_or(i64::MAX)
    }

    /// The topics `list` reads: watch them to know when to read it again.
    pub fn topics_of(&self, list: LiveList) -> Vec<ChangeTopic> {
        let topics = match list {
            LiveList::StoreList => fc::LocalStore::STORE_LIST_TOPICS,
            LiveList::VisitsOfDay => fc::LocalStore::VISITS_OF_DAY_TOPICS,
            LiveList::DamagedDocuments => fc::Topics::DAMAGED | fc::Topics::DOCUMENTS,
            LiveList::Receipts => fc::Topics::UPLOADS | fc::Topics::DOCUMENTS,
            LiveList::DocumentsInConflict => fc::Topics::DOCUMENTS | fc::Topics::STORES,
        };
        ALL_TOPICS
            .iter()
            .filter(|(_, core)| topics.intersects(*core))
            .map(|(topic, _)| *topic)
            .collect()
    }

    /// A page of the stores of a territory with what is due, from the index tables only.
    pub fn store_list(&self, query: StoreListQuery) -> Result<StorePage, FieldError> {
        let day = parse::day(&self.core, "day", query.day)?;
        let count = |field: &str, n: i32| {
            u32::try_from(n).map_err(|_| FieldError::InvalidInput {
                field: field.into(),
                reason: format!("`{n}` must not be negative"),
            })
        };
        let core_query = fc::StoreListQuery {
            territory: query.territory.unwrap_or_else(|| self.user_id()),
            day,
            search: query.search,
            only_due: query.only_due,
            only_demo_street: query.only_demo_street,
            only_functional_terminals: query.only_functional_terminals,
            only_missing_tags: query.only_missing_tags,
            only_with_open_tasks: query.only_with_open_tasks,
            only_not_on_server: query.only_not_on_server,
            sort: query.sort.map_or(fc::StoreSort::Name, Into::into),
            offset: count("offset", query.offset)?,
            limit: count("limit", query.limit)?,
        };
        let page = self.core.store_list(&core_query)?;
        Ok(StorePage {
            rows: page.rows.into_iter().map(Into::into).collect(),
            total: to_i32(page.total),
            offset: to_i32(page.offset),
        })
    }

    /// Every record with fields in conflict, from the index (no record is loaded).
    pub fn documents_in_conflict(&self) -> Result<Vec<ConflictedRecord>, FieldError> {
        Ok(self
            .core
            .documents_in_conflict()?
            .into_iter()
            .map(|c| ConflictedRecord {
                id: c.id.to_string(),
                kind: c.kind.into(),
                store_id: c.store_id.map(|s| s.to_string()),
                store_name: c.store_name,
                fields: c.fields,
            })
            .collect())
    }

    /// The visits `visitor` (null: this user) checked in to on `day` (null: today).
    pub fn visits_of_day(
        &self,
        visitor: Option<String>,
        day: Option<LocalDate>,
    ) -> Result<Vec<VisitListRecord>, FieldError> {
        let day = parse::day(&self.core, "day", day)?;
        let visitor = visitor.unwrap_or_else(|| self.user_id());
        let rows = self.core.visits_of_day(&visitor, day)?;
        Ok(rows
            .into_iter()
            .map(|v| VisitListRecord {
                id: v.id.to_string(),
                store_id: v.store_id.to_string(),
                store_name: v.store_name,
                kind: v.kind.into(),
                check_in: Instant::from(v.check_in),
                check_out: v.check_out.map(Instant::from),
                in_range: v.in_range,
                upload: v.upload.into(),
            })
            .collect())
    }
}

const ALL_TOPICS: [(ChangeTopic, fc::Topics); 11] = [
    (ChangeTopic::Stores, fc::Topics::STORES),
    (ChangeTopic::Visits, fc::Topics::VISITS),
    (ChangeTopic::ShelfDisplays, fc::Topics::SHELF_DISPLAYS),
    (ChangeTopic::InventoryCounts, fc::Topics::INVENTORY_COUNTS),
    (ChangeTopic::Tasks, fc::Topics::TASKS),
    (ChangeTopic::Complaints, fc::Topics::COMPLAINTS),
    (ChangeTopic::Scorecards, fc::Topics::SCORECARDS),
    (ChangeTopic::Uploads, fc::Topics::UPLOADS),
    (ChangeTopic::Damaged, fc::Topics::DAMAGED),
    (ChangeTopic::SyncState, fc::Topics::SYNC_STATE),
    (ChangeTopic::Documents, fc::Topics::DOCUMENTS),
];

fn core_topics(topics: &[ChangeTopic]) -> fc::Topics {
    ALL_TOPICS
        .iter()
        .filter(|(topic, _)| topics.contains(topic))
        .fold(fc::Topics::NONE, |all, (_, core)| all | *core)
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<fc::StoreListRow> for StoreListRecord {
    fn from(r: fc::StoreListRow) -> Self {
        StoreListRecord {
            id: r.store_id.to_string(),
            name: r.name,
            licence: r.licence,
            format: r.format.into(),
            market: r.market.into(),
            size: r.size.into(),
            tier: r.tier.into(),
            demo_street: r.demo_street,
            functional_terminal: r.functional_terminal,
            rating: r.rating.map(Into::into),
            last_visit: r.last_visit.map(Instant::from),
            visit_due: r.visit_due,
            demo_check_due: r.demo_check_due,
            follow_up_due: r.follow_up_due.map(Into::into),
            missing_price_tags: r.missing_price_tags.map(to_i32),
            open_tasks: to_i32(r.open_tasks),
            upload: r.upload.into(),
            documents_not_on_server: to_i32(r.documents_not_on_server),
        }
    }
}
