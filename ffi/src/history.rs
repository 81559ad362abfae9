//! Any document by id: its kind, the ids of every document of a kind, and its history (who
//! changed it, what, and when), for an audit screen or a "last edited by" line.
//!
//! The shelf display's state at a past instant is `shelf_display_as_of` in
//! `shelf_display.rs`; the core keeps no other as-of reads.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::parse::{self, same_variants};
use crate::store::FieldStore;
use crate::time::Instant;

/// The kinds of field documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DocumentKind {
    Store,
    Visit,
    ShelfDisplay,
    InventoryCount,
    Scorecard,
    Task,
    Complaint,
}

/// One change of a document.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntryRecord {
    /// Hex hash of the change: the same on every device that has it.
    pub change: String,
    pub by: String,
    /// When, by the editing device's clock.
    pub at: Instant,
    /// What the edit did, in a few words (`move to submitted`).
    pub what: String,
}

#[uniffi::export]
impl FieldStore {
    /// The kind of a document this device has.
    pub fn document_kind(&self, id: String) -> Result<DocumentKind, FieldError> {
        Ok(self.core.kind_of(&parse::id("id", &id)?)?.into())
    }

    /// Ids of every document of `kind` on this device.
    pub fn document_ids(&self, kind: DocumentKind) -> Result<Vec<String>, FieldError> {
        let ids = self.core.document_ids(kind.into())?;
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    /// Who changed a document, what, and when, oldest first.
    pub fn document_history(&self, id: String) -> Result<Vec<HistoryEntryRecord>, FieldError> {
        let history = self.core.history(&parse::id("id", &id)?)?;
        Ok(history
            .into_iter()
            .map(|h| HistoryEntryRecord {
                change: h.change,
                by: h.by,
                at: Instant::from(h.at),
                what: h.what,
            })
            .collect())
    }
}

same_variants!(
    DocumentKind,
    fc::DocKind,
    Store,
    Visit,
    ShelfDisplay,
    InventoryCount,
    Scorecard,
    Task,
    Complaint,
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, new_store, phone};

    #[test]
    fn a_documents_history_names_who_made_each_change_oldest_first() {
        let admin = phone("admin-chen", MONDAY_10);
        let id = admin
            .store
            .create_store(new_store("330100000041", "am-li"))
            .expect("store");
        admin.clock.advance_minutes(5);
        admin
            .store
            .reassign_store(id.clone(), "am-wu".into())
            .expect("reassign");
        let history = admin.store.document_history(id.clone()).expect("history");
        assert_eq!(history.len(), 2);
        assert!(history.iter().all(|h| h.by == "admin-chen"));
        assert!(history[0].at < history[1].at);
        assert!(history[1].what.contains("am-wu"), "{}", history[1].what);
        assert_eq!(
            admin.store.document_kind(id.clone()).expect("kind"),
            DocumentKind::Store
        );
        assert_eq!(
            admin.store.document_ids(DocumentKind::Store).expect("ids"),
            vec![id]
        );
        assert!(
            admin
                .store
                .document_ids(DocumentKind::Task)
                .expect("ids")
                .is_empty()
        );
    }
}
