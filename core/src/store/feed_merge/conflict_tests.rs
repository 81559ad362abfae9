//! A document merged from the server is listed in conflict from what the worker read with
//! its check, whether the merge keeps it in the cache (indexed on the writer's thread) or
//! not (indexed from the rows the worker derived).

use super::*;
use crate::fixtures::{at, device, exchange, sample_store};
use crate::{DisplayStandard, StoreOptions, Verdict};

#[test]
fn documents_merged_on_worker_threads_are_listed_in_conflict_whether_the_merge_caches_them_or_not()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let start = at("2026-11-23T09:00:00+08:00");
    let (a, _) = device(dir.path().join("a.db"), "am-li", start)?;
    let (b, _) = device(dir.path().join("b.db"), "sup-wang", start)?;
    let mut feed = Vec::new();
    for n in 1..=10 {
        let store = a.create_store(sample_store("am-li", n))?;
        a.create_shelf_display(&store)?;
        feed.push(store);
    }
    exchange(&a, &b)?;
    // Every display is marked on both phones at once: each holds a conflict.
    for store in &feed {
        let display = LocalStore::shelf_display_id(store);
        a.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "")?;
        b.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Pass, "")?;
    }
    exchange(&b, &a)?;
    let displays: Vec<DocId> = feed.iter().map(LocalStore::shelf_display_id).collect();
    let docs = feed
        .iter()
        .zip(&displays)
        .flat_map(|(store, display)| [store.clone(), display.clone()])
        .map(|id| Ok((id.clone(), a.export_changes(&id, &[])?)))
        .collect::<Result<Vec<_>>>()?;
    assert!(docs.len() >= PARALLEL_FROM, "{} documents", docs.len());
    // A cache of 4: the merge caches the last 4 documents (2 displays) and indexes the
    // others from what the workers read.
    let phone = LocalStore::open(
        dir.path().join("new.db"),
        crate::DeviceIdentity::new("am-li", "am-li-new"),
        StoreOptions {
            cache_capacity: 4,
            ..StoreOptions::default()
        },
    )?;
    let merged = phone
        .lock()?
        .all_or_nothing(|inner| inner.merge_many(docs, true, 2, &|| false))?
        .0;
    assert_eq!(merged.count, 20);
    let listed = phone.documents_in_conflict()?;
    let mut ids: Vec<DocId> = listed.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    let mut expected = displays.clone();
    expected.sort();
    assert_eq!(ids, expected);
    for doc in &listed {
        assert_eq!(doc.fields, a.documents_in_conflict()?[0].fields, "{doc:?}");
        assert!(
            doc.fields.iter().any(|f| f.contains("price_tags")),
            "{doc:?}"
        );
    }
    Ok(())
}
