//! The idle-time check (ADR 0036, `crate::store::received_check`) facing documents that
//! do not read, name a newer schema or were stored under another kind: each is set aside
//! as damaged with every change it came with and those the merge had kept aside, never
//! stalling the check; changes kept aside for a mislabelled document are merged once it is
//! stored as its own kind. Shared setup is in `received_check_tests.rs`.

use super::received_check_tests::{
    check_in_deleted, count_lie, note, of_a_newer_schema, records, stored_from_records,
    stored_unreadable_visit, stored_visit_with,
};
use super::unbuilt_tests::source;
use crate::error::{Error, Result};
use crate::kinds::feed_index::forged;
use crate::store::index::tests::table_rows;
use crate::sync::replica::IncomingChange;

#[test]
fn a_document_stored_from_rows_that_does_not_read_as_its_kind_is_kept_aside_as_damaged_with_its_changes()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    // A visit whose last change deletes its check-in, sent with the rows it had before.
    let (fast, docs, visit, damaged) = stored_unreadable_visit(dir.path())?;
    assert_eq!(
        fast.visits_of_store(&docs[0].0)?,
        std::slice::from_ref(&visit),
        "listed"
    );

    let report = fast.check_received(10)?;
    assert_eq!(
        (report.checked, report.damaged.clone()),
        (2, vec![visit.clone()])
    );
    assert_eq!(report.remaining, 0);
    assert!(
        fast.visits_of_store(&docs[0].0)?.is_empty(),
        "left the lists"
    );
    let listed = fast.damaged_documents()?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, visit);
    assert!(!listed[0].earlier_version_kept);
    assert!(matches!(fast.visit(&visit), Err(Error::Damaged { .. })));

    // Every change it came with is kept, for the repair that makes it read again.
    let kept = fast.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert_eq!(kept, damaged, "every received change was kept");
    Ok(())
}

#[test]
fn a_document_of_a_newer_schema_is_set_aside_and_never_stalls_the_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let newer = of_a_newer_schema(&docs[2].1)?;
    let (phone, _, visit, _) = stored_visit_with(dir.path(), docs, newer, |rows| rows)?;

    let report = phone.check_received(10)?;
    assert_eq!((report.checked, report.remaining), (2, 0));
    assert_eq!(report.damaged, std::slice::from_ref(&visit));
    assert_eq!(phone.check_received(10)?, crate::ReceivedCheck::default());
    Ok(())
}

#[test]
fn a_damaged_document_compacted_before_the_check_is_kept_aside_as_changes_a_later_sync_merges_with()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (phone, _docs, visit, damaged) = stored_unreadable_visit(dir.path())?;
    assert_eq!(phone.compact(1, 10)?, 3, "compaction reached it first");
    assert_eq!(
        phone.check_received(10)?.damaged,
        std::slice::from_ref(&visit)
    );
    let kept = phone.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert_eq!(kept.len(), damaged.len(), "its changes, one by one");
    let later = note(&damaged, "later")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![later])],
        Vec::new(),
        &[],
        None,
        "10",
    )?;
    assert_eq!(
        phone.damaged_documents()?.len(),
        1,
        "still unreadable, still listed"
    );
    Ok(())
}

#[test]
fn changes_the_merge_kept_aside_survive_the_check_setting_the_document_aside() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (phone, _docs, visit, damaged) = stored_unreadable_visit(dir.path())?;
    // A later sync brings X: the merge keeps it aside, the stored version stays.
    let x = note(&damaged, "x")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![x.clone()])],
        Vec::new(),
        &[],
        None,
        "10",
    )?;
    assert_eq!(phone.lock()?.held_changes(&visit)?, Some(vec![x.clone()]));

    assert_eq!(
        phone.check_received(10)?.damaged,
        std::slice::from_ref(&visit)
    );
    let kept = phone.lock()?.held_changes(&visit)?.unwrap_or_default();
    assert!(kept.contains(&x), "X is still on the phone");
    // Y depends on X: the next sync merges it instead of failing.
    let mut with_x = damaged.clone();
    with_x.push(x);
    let y = note(&with_x, "y")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![y])],
        Vec::new(),
        &[],
        None,
        "11",
    )?;
    Ok(())
}

/// A change the merge kept aside only because the mislabelled stored version did not
/// load stays aside (and the document listed as a damaged count) after the check relabels
/// it and finds it reads.
#[test]
fn changes_kept_aside_for_a_document_stored_under_another_kind_are_merged_once_it_is_stored_as_its_own()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let mut index = records(&docs)?;
    let (visit, changes) = docs[2].clone();
    index[1].1 = forged(count_lie(&docs), Vec::new(), &changes);
    let phone = stored_from_records(dir.path(), "fast.db", &docs, index)?;
    // A readable change (notes), written on a phone that built the visit.
    let builder = stored_from_records(dir.path(), "builder.db", &docs, Vec::new())?;
    let heads = builder.heads(&visit)?;
    builder.set_visit_notes(&visit, "x")?;
    let x = builder
        .export_changes(&visit, &heads)?
        .iter()
        .map(|c| IncomingChange::parse(c).map(|c| c.bytes()))
        .collect::<Result<Vec<_>>>()?;
    phone.apply_sync_response(&[], vec![(visit.clone(), x)], Vec::new(), &[], None, "10")?;

    phone.check_received(10)?;
    let listed = phone.damaged_documents()?;
    let notes = phone.visit(&visit)?.notes;
    assert_eq!(notes, builder.visit(&visit)?.notes, "the note merged");
    assert!(listed.is_empty(), "still listed as damaged: {listed:?}");
    Ok(())
}

/// A mislabelled visit that is itself damaged is set aside as a visit,
/// with every change, and the count's rows go with it.
#[test]
fn a_damaged_visit_stored_under_another_kind_is_set_aside_as_a_visit() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let (bad, lie) = (check_in_deleted(&docs[2].1)?, count_lie(&docs));
    let (phone, _, visit, damaged) = stored_visit_with(dir.path(), docs, bad, |_| lie)?;
    let report = phone.check_received(10)?;
    assert_eq!(report.damaged, std::slice::from_ref(&visit));
    let listed = phone.damaged_documents()?;
    assert_eq!(listed[0].kind, Some(crate::ids::DocKind::Visit));
    assert!(!listed[0].earlier_version_kept);
    assert_eq!(
        table_rows(
            &phone,
            &[
                "SELECT COUNT(*) FROM count_index WHERE id NOT IN (SELECT id FROM documents)",
                "SELECT COUNT(*) FROM documents WHERE kind = 'inventory_count'"
            ]
        )?,
        ["Integer(0)", "Integer(1)"]
    );
    assert_eq!(phone.lock()?.held_changes(&visit)?, Some(damaged.clone()));
    // A repair merges with them.
    let later = note(&damaged, "later")?;
    phone.apply_sync_response(
        &[],
        vec![(visit.clone(), vec![later])],
        Vec::new(),
        &[],
        None,
        "10",
    )?;
    Ok(())
}

#[test]
fn compaction_before_the_check_skips_a_document_of_a_newer_schema() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = source(dir.path())?;
    let newer = of_a_newer_schema(&docs[2].1)?;
    let (phone, _, visit, _) = stored_visit_with(dir.path(), docs, newer, |rows| rows)?;

    let compacted = phone.compact(1, 10);
    assert!(
        compacted.is_ok(),
        "compaction stops at a newer schema: {compacted:?}"
    );
    let report = phone.check_received(10)?;
    assert_eq!((report.checked, report.remaining), (2, 0));
    assert_eq!(report.damaged, std::slice::from_ref(&visit));
    assert_eq!(phone.check_received(10)?, crate::ReceivedCheck::default());
    Ok(())
}
