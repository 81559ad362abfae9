//! The pages compaction frees go back to the phone's storage when an app asks
//! (`LocalStore::reclaim_space`): the file shrinks by about what was free, every document
//! reads as before, and below the app's threshold nothing is rewritten.

use fieldsync_core::fixtures::{at, device, sample_count, sample_store};
use fieldsync_core::{DocId, LocalStore, Result};

/// A store with `counts` inventory counts, each edited `edits` times (a chunk per edit).
fn edited_counts(
    path: &std::path::Path,
    counts: usize,
    edits: i64,
) -> Result<(LocalStore, Vec<DocId>)> {
    let (db, _) = device(path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let mut ids = Vec::new();
    for _ in 0..counts {
        let id = db.create_inventory_count(sample_count(&store, 30))?;
        for n in 0..edits {
            db.set_counted(&id, &format!("sku-{:03}", n % 30), n)?;
        }
        ids.push(id);
    }
    Ok((db, ids))
}

#[test]
fn the_pages_compaction_freed_are_given_back_and_every_document_reads_as_before() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("phone.db");
    let (db, ids) = edited_counts(&path, 12, 60)?;
    assert_eq!(db.compact(2, 100)?, 12);
    let before: Vec<_> = ids
        .iter()
        .map(|id| db.inventory_count(id))
        .collect::<Result<_>>()?;

    let untouched = db.reclaim_space(u64::MAX)?;
    assert!(
        untouched.free_bytes > 0,
        "compaction freed pages: {untouched:?}"
    );
    assert_eq!(
        untouched.bytes_after, untouched.bytes_before,
        "below the threshold nothing is rewritten"
    );

    let reclaimed = db.reclaim_space(0)?;
    assert_eq!(reclaimed.free_bytes, untouched.free_bytes);
    assert!(
        reclaimed.bytes_after + reclaimed.free_bytes <= reclaimed.bytes_before + 4096,
        "the file lost about its free pages: {reclaimed:?}"
    );
    assert!(
        reclaimed.bytes_after < reclaimed.bytes_before,
        "{reclaimed:?}"
    );
    assert_eq!(
        std::fs::metadata(&path)?.len(),
        reclaimed.bytes_after,
        "the file on disk shrank, its log emptied into it"
    );
    let after: Vec<_> = ids
        .iter()
        .map(|id| db.inventory_count(id))
        .collect::<Result<_>>()?;
    assert_eq!(after, before);
    assert_eq!(db.integrity_check()?, "ok");

    // Nothing free now: nothing to do; and the store goes on taking edits.
    let again = db.reclaim_space(0)?;
    assert_eq!(
        (again.free_bytes, again.bytes_after),
        (0, reclaimed.bytes_after)
    );
    db.set_counted(&ids[0], "sku-001", 7)?;
    assert_ne!(
        db.inventory_count(&ids[0])?,
        after[0],
        "the edit was stored"
    );
    assert_eq!(db.integrity_check()?, "ok");
    Ok(())
}
