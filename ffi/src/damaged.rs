//! Documents this device received and cannot read: the list an app shows, and the list it
//! shows beside every rule answer (ADR 0010). Reading one of them through its kind's call
//! fails with `FieldError::Damaged`, naming the document and why.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::history::DocumentKind;
use crate::store::FieldStore;
use crate::time::Instant;

/// A document this device received and cannot read as its kind (an older server accepted
/// it). The sync and every other document went on; changes that repair it clear it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DamagedRecord {
    pub id: String,
    /// The kind it names itself, when it can say.
    pub kind: Option<DocumentKind>,
    /// The store it is about, when it can say.
    pub store_id: Option<String>,
    /// Why it cannot be read, as a sentence.
    pub reason: String,
    /// When this device first, and last, found it damaged (device clock).
    pub found_at: Instant,
    pub checked_at: Instant,
    /// Whether this device keeps an earlier, readable state of it: reads, edits and rule
    /// queries see that state, without what cannot be read.
    pub earlier_version_kept: bool,
}

#[uniffi::export]
impl FieldStore {
    /// Every document this device received and cannot read.
    pub fn damaged_documents(&self) -> Result<Vec<DamagedRecord>, FieldError> {
        Ok(self
            .core
            .damaged_documents()?
            .into_iter()
            .map(DamagedRecord::from)
            .collect())
    }

    /// The damaged documents the rule queries for `manager`'s territory cannot judge: show
    /// them beside every rule answer ("these records could not be read and are not counted").
    pub fn rules_cannot_judge(&self, manager: String) -> Result<Vec<DamagedRecord>, FieldError> {
        Ok(self
            .core
            .rules_cannot_judge(&manager)?
            .into_iter()
            .map(DamagedRecord::from)
            .collect())
    }
}

impl From<fc::DamagedDocument> for DamagedRecord {
    fn from(d: fc::DamagedDocument) -> Self {
        DamagedRecord {
            id: d.id.to_string(),
            kind: d.kind.map(DocumentKind::from),
            store_id: d.store_id.map(|s| s.to_string()),
            reason: d.reason,
            found_at: Instant::from(d.found_at),
            checked_at: Instant::from(d.checked_at),
            earlier_version_kept: d.earlier_version_kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_core::fixtures::unreadable::{RawEdit, raw_change};
    use fieldsync_core::{CheckPoint, NewVisit, VisitKind};

    use super::*;
    use crate::test_support::{MONDAY_10, new_store, phone};

    #[test]
    fn a_visit_received_without_check_in_is_listed_and_reading_it_is_a_damaged_error() {
        let source = phone("am-li", MONDAY_10);
        let receiver = phone("am-li", MONDAY_10);
        let store = source
            .store
            .create_store(new_store("330100000041", "am-li"))
            .expect("store");
        let store_id = fc::DocId::parse("store", &store).expect("id");
        let visit = source
            .store
            .core
            .create_visit(NewVisit {
                store_id: store_id.clone(),
                kind: VisitKind::Routine,
                check_in: CheckPoint {
                    at: source.clock.now(),
                    gps: None,
                },
                complaint_id: None,
            })
            .expect("visit");
        let mut changes = source
            .store
            .core
            .export_changes(&visit, &[])
            .expect("export");
        let bad = raw_change(
            &changes,
            &[RawEdit::delete("check_in")],
            "am-li",
            source.clock.now(),
        )
        .expect("raw change");
        changes.push(bad);
        let core = &receiver.store.core;
        core.merge_from_server(
            &store_id,
            &source
                .store
                .core
                .export_changes(&store_id, &[])
                .expect("export"),
        )
        .expect("store merged");
        core.merge_from_server(&visit, &changes)
            .expect("kept aside, not refused");

        let listed = receiver.store.damaged_documents().expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, visit.to_string());
        assert_eq!(listed[0].kind, Some(DocumentKind::Visit));
        assert_eq!(listed[0].store_id.as_deref(), Some(store.as_str()));
        assert!(!listed[0].earlier_version_kept);
        assert_eq!(
            receiver
                .store
                .rules_cannot_judge("am-li".into())
                .expect("rules"),
            listed
        );
        assert!(
            receiver
                .store
                .rules_cannot_judge("am-wu".into())
                .expect("rules")
                .is_empty()
        );
        match receiver.store.visit(visit.to_string()) {
            Err(FieldError::Damaged { id, reason }) => {
                assert_eq!(id, visit.to_string());
                assert!(reason.contains("check_in"), "{reason}");
            }
            other => panic!("expected a damaged error, got {other:?}"),
        }
    }
}
