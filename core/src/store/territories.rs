//! Whose figures a document counts in: the territory of the store it is about and the
//! people it names, read from the index. A reader that keeps figures per account manager
//! (the server's console) asks before and after merging a document, and computes again
//! only the managers named.

use std::collections::BTreeSet;

use super::LocalStore;
use crate::error::Result;
use crate::ids::DocId;

/// The store a document is about (itself for a store), from any index that holds it, and
/// every territory that has held it (a spot check made while a store was Li's counts for
/// Li after it moved: docs/adr/0029); the account managers the document names (a visit's
/// visitor, a task's assignee, a display's checkers, a scorecard's manager).
const NAMED: &str = "
    SELECT a.territory FROM store_period a WHERE a.store_id IN (
        ?1,
        (SELECT store_id FROM visit_index WHERE id = ?1),
        (SELECT store_id FROM display_index WHERE id = ?1),
        (SELECT store_id FROM count_index WHERE id = ?1),
        (SELECT store_id FROM task_index WHERE id = ?1),
        (SELECT store_id FROM complaint_index WHERE id = ?1),
        (SELECT store_id FROM damaged WHERE doc_id = ?1))
    UNION SELECT visitor FROM visit_index WHERE id = ?1
    UNION SELECT assignee FROM task_index WHERE id = ?1
    UNION SELECT checker FROM display_check_index WHERE display_id = ?1
    UNION SELECT manager FROM scorecard_index WHERE id = ?1";

impl LocalStore {
    /// The territories and people document `id` counts for, as the index holds it now:
    /// empty when the index knows nothing of it (not yet merged, or unreadable and about
    /// no store), which a caller must take as "anyone".
    pub fn territories_of(&self, id: &DocId) -> Result<BTreeSet<String>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(NAMED)?;
        let named = stmt
            .query_map([id.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<BTreeSet<_>>>()?;
        Ok(named)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};
    use crate::{
        CheckPoint, DisplayCheck, DisplayStandard, NewVisit, StandardCheck, Verdict, VisitKind,
    };

    #[test]
    fn a_visit_counts_for_its_stores_territory_and_its_visitor() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (phone, _clock) = device(
            dir.path().join("p.db"),
            "am-1",
            at("2026-11-02T09:00:00+08:00"),
        )?;
        let store = phone.create_store(sample_store("am-2", 1))?;
        assert_eq!(
            phone.territories_of(&store)?,
            BTreeSet::from(["am-2".to_owned()])
        );
        let visit = phone.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-02T09:00:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        })?;
        assert_eq!(
            phone.territories_of(&visit)?,
            BTreeSet::from(["am-1".to_owned(), "am-2".to_owned()])
        );
        let display = phone.create_shelf_display(&store)?;
        assert_eq!(
            phone.territories_of(&display)?,
            BTreeSet::from(["am-2".to_owned()])
        );
        let check = DisplayCheck {
            standards: vec![StandardCheck {
                standard: DisplayStandard::ALL[0],
                verdict: Verdict::Pass,
                note: String::new(),
                photos: vec![],
            }],
            ..DisplayCheck::default()
        };
        phone.record_display_check(&display, &check)?;
        assert_eq!(
            phone.territories_of(&display)?,
            BTreeSet::from(["am-1".to_owned(), "am-2".to_owned()])
        );
        phone.reassign_store(&store, "am-3")?;
        assert_eq!(
            phone.territories_of(&visit)?,
            BTreeSet::from(["am-1".to_owned(), "am-3".to_owned()])
        );
        Ok(())
    }

    #[test]
    fn a_document_the_index_does_not_hold_counts_for_no_one_named() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (phone, _clock) = device(
            dir.path().join("p.db"),
            "am-1",
            at("2026-11-02T09:00:00+08:00"),
        )?;
        let unknown = DocId::new();
        assert!(phone.territories_of(&unknown)?.is_empty());
        Ok(())
    }
}
