//! A store that leaves the phone's scope and comes back: what the phone kept of it only
//! for its unsent edits is the phone's again, not dropped once the edits are confirmed.

use fieldsync_core::fixtures::{at, device, routine_visit, sample_store};
use fieldsync_core::{Error, Result};

/// Shown to guard the return: without clearing the mark when the feed sends the document
/// again, the visit was dropped at the last step and the test failed at its last assert.
#[test]
fn a_visit_kept_for_its_edits_when_its_store_left_stays_once_the_store_is_back_and_they_are_confirmed()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let now = at("2026-11-23T09:00:00+08:00");
    let (phone, _) = device(dir.path().join("phone.db"), "am-li", now)?;
    let store = phone.create_store(sample_store("am-li", 1))?;
    let visit = phone.create_visit(routine_visit(&store, now))?;
    // The store leaves while the visit's edits wait for the server: the visit stays.
    assert_eq!(
        phone.documents_left_scope(&[store.clone(), visit.clone()])?,
        0
    );
    // The store comes back: the feed sends its documents whole.
    let back = [&store, &visit]
        .into_iter()
        .map(|id| Ok((id.clone(), phone.export_changes(id, &[])?)))
        .collect::<Result<Vec<_>>>()?;
    phone.store_feed_page(back, "42")?;
    // The edits reach the server; the next response drops what left and stayed away.
    for pushed in phone.outbox_batch(10)? {
        phone.confirm_pushed(&pushed.id, pushed.local_edits, &pushed.heads)?;
    }
    assert_eq!(phone.drop_left_documents()?, 0);
    assert!(phone.visit(&visit).is_ok());
    assert!(phone.store(&store).is_ok());
    Ok(())
}

#[test]
fn a_visit_whose_store_left_and_stayed_away_is_dropped_once_its_edits_are_confirmed() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let now = at("2026-11-23T09:00:00+08:00");
    let (phone, _) = device(dir.path().join("phone.db"), "am-li", now)?;
    let store = phone.create_store(sample_store("am-li", 1))?;
    let visit = phone.create_visit(routine_visit(&store, now))?;
    assert_eq!(
        phone.documents_left_scope(&[store.clone(), visit.clone()])?,
        0
    );
    for pushed in phone.outbox_batch(10)? {
        phone.confirm_pushed(&pushed.id, pushed.local_edits, &pushed.heads)?;
    }
    assert_eq!(phone.drop_left_documents()?, 2);
    assert!(matches!(phone.visit(&visit), Err(Error::NotFound { .. })));
    Ok(())
}
