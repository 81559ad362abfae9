//! A phone survives a document it cannot read: the merge keeps it aside as damaged, every
//! other document is stored, a readable earlier state and the phone's own edits are kept,
//! reading it says why, rule queries leave it out and say so, and a later change that
//! repairs it clears the damage.

use fieldsync_core::fixtures::unreadable::{RawEdit, raw_change};
use fieldsync_core::fixtures::{ManualClock, at, device, sample_store};
use fieldsync_core::{
    CheckPoint, ComplaintKind, DisplayStandard, DocId, DocKind, Error, LocalStore, NewComplaint,
    NewVisit, Result, Verdict, VisitKind,
};

fn start() -> fieldsync_core::Timestamp {
    at("2026-11-23T09:00:00+08:00")
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a day")
}

/// A source of documents (the server, or another phone of am-li) and the phone that
/// receives them.
struct Pair {
    _dir: tempfile::TempDir,
    source: LocalStore,
    source_clock: ManualClock,
    phone: LocalStore,
}

fn pair() -> Result<Pair> {
    let dir = tempfile::tempdir()?;
    let (source, source_clock) = device(dir.path().join("source.db"), "am-li", start())?;
    let (phone, _) = device(dir.path().join("phone.db"), "am-li", start())?;
    Ok(Pair {
        _dir: dir,
        source,
        source_clock,
        phone,
    })
}

impl Pair {
    /// Every change of `id` on the source.
    fn changes(&self, id: &DocId) -> Result<Vec<Vec<u8>>> {
        self.source.export_changes(id, &[])
    }

    /// Hands every change of `id` to the phone as the server would, plus `extra` changes.
    fn send(&self, id: &DocId, extra: &[Vec<u8>]) -> Result<()> {
        let mut changes = self.changes(id)?;
        changes.extend_from_slice(extra);
        self.phone.merge_from_server(id, &changes)
    }

    fn visit(&self, store: &DocId) -> Result<DocId> {
        self.source_clock.advance_minutes(5);
        self.source.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: self.source.now()?,
                gps: None,
            },
            complaint_id: None,
        })
    }
}

/// The reason of a `Damaged` error for `id`, or a panic saying what came instead.
fn damage_reason<T: std::fmt::Debug>(read: Result<T>, id: &DocId) -> String {
    match read {
        Err(Error::Damaged {
            id: named, reason, ..
        }) if named == id.as_str() => reason,
        other => panic!("expected `{id}` damaged, got {other:?}"),
    }
}

#[test]
fn a_batch_holding_an_unreadable_display_stores_every_other_document_and_keeps_the_display_aside()
-> Result<()> {
    let p = pair()?;
    let mut feed = Vec::new();
    let mut displays = Vec::new();
    // Enough documents that the batch is prepared on worker threads.
    for n in 1..=12 {
        let store = p.source.create_store(sample_store("am-li", n))?;
        let display = p.source.create_shelf_display(&store)?;
        feed.push((store.clone(), p.changes(&store)?));
        displays.push((store, display));
    }
    let (bad_store, bad) = displays[7].clone();
    for (_, display) in &displays {
        let mut changes = p.changes(display)?;
        if *display == bad {
            let banana = RawEdit::verdict(
                DisplayStandard::PriceTags,
                "banana",
                "am-li",
                p.source.now()?,
            );
            changes.push(raw_change(&changes, &[banana], "am-li", p.source.now()?)?);
        }
        feed.push((display.clone(), changes));
    }
    assert_eq!(p.phone.merge_many_from_server(feed)?, 24);

    assert_eq!(p.phone.document_ids(DocKind::Store)?.len(), 12);
    assert_eq!(p.phone.document_ids(DocKind::ShelfDisplay)?.len(), 11);
    for (_, display) in displays.iter().filter(|(_, d)| *d != bad) {
        p.phone.shelf_display(display)?;
    }
    let reason = damage_reason(p.phone.shelf_display(&bad), &bad);
    assert!(reason.contains("banana"), "{reason}");
    let damaged = p.phone.damaged_documents()?;
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].id, bad);
    assert_eq!(damaged[0].kind, Some(DocKind::ShelfDisplay));
    assert_eq!(damaged[0].store_id, Some(bad_store));
    assert!(!damaged[0].earlier_version_kept);
    assert_eq!(p.phone.rules_cannot_judge("am-li")?, damaged);
    assert!(p.phone.rules_cannot_judge("am-wu")?.is_empty());
    Ok(())
}

#[test]
fn a_readable_display_with_a_pending_local_edit_keeps_both_when_an_unreadable_change_arrives_and_a_repair_clears_it()
-> Result<()> {
    let p = pair()?;
    let store = p.source.create_store(sample_store("am-li", 1))?;
    let display = p.source.create_shelf_display(&store)?;
    p.send(&store, &[])?;
    p.send(&display, &[])?;
    p.phone.mark_display_standard(
        &display,
        DisplayStandard::TidyCounter,
        Verdict::Fail,
        "dusty",
    )?;
    let pending = p.phone.outbox_batch(10)?;

    let now = p.source.now()?;
    let banana = raw_change(
        &p.changes(&display)?,
        &[RawEdit::verdict(
            DisplayStandard::PriceTags,
            "banana",
            "am-li",
            now,
        )],
        "am-li",
        now,
    )?;
    p.send(&display, std::slice::from_ref(&banana))?;

    // The readable state and the phone's edit are kept, and the edit still waits to go.
    let kept = p.phone.shelf_display(&display)?;
    let verdict = |d: &fieldsync_core::ShelfDisplay, s: DisplayStandard| {
        d.standards
            .iter()
            .find(|(standard, _)| *standard == s)
            .and_then(|(_, v)| v.as_ref().map(|v| v.value().verdict))
    };
    assert_eq!(
        verdict(&kept, DisplayStandard::TidyCounter),
        Some(Verdict::Fail)
    );
    assert_eq!(verdict(&kept, DisplayStandard::PriceTags), None);
    assert_eq!(p.phone.outbox_batch(10)?, pending);
    let damaged = p.phone.damaged_documents()?;
    assert_eq!(damaged.len(), 1);
    assert!(damaged[0].earlier_version_kept);
    assert!(damaged[0].reason.contains("banana"), "{damaged:?}");

    // The same changes again (a sync from an older cursor) change nothing.
    p.send(&display, std::slice::from_ref(&banana))?;
    assert_eq!(p.phone.damaged_documents()?.len(), 1);

    // Someone sets the verdict again, on top of the banana: it reads, with everything.
    let mut all = p.changes(&display)?;
    all.push(banana);
    let fix = raw_change(
        &all,
        &[RawEdit::verdict(
            DisplayStandard::PriceTags,
            "pass",
            "am-li",
            now,
        )],
        "am-li",
        now,
    )?;
    p.phone.merge_from_server(&display, &[fix])?;
    assert!(p.phone.damaged_documents()?.is_empty());
    let repaired = p.phone.shelf_display(&display)?;
    assert_eq!(
        verdict(&repaired, DisplayStandard::PriceTags),
        Some(Verdict::Pass)
    );
    assert_eq!(
        verdict(&repaired, DisplayStandard::TidyCounter),
        Some(Verdict::Fail)
    );
    assert_eq!(
        p.phone.pending_documents()?.len(),
        1,
        "the edit still waits"
    );
    Ok(())
}

#[test]
fn a_visit_without_check_in_reads_as_damaged_rules_leave_it_out_and_say_so_until_a_repair()
-> Result<()> {
    let p = pair()?;
    let store = p.source.create_store(sample_store("am-li", 1))?;
    let visit = p.visit(&store)?;
    let broken = raw_change(
        &p.changes(&visit)?,
        &[RawEdit::delete("check_in")],
        "am-li",
        p.source.now()?,
    )?;
    p.send(&store, &[])?;
    p.send(&visit, std::slice::from_ref(&broken))?;

    let reason = damage_reason(p.phone.visit(&visit), &visit);
    assert!(reason.contains("check_in"), "{reason}");
    damage_reason(p.phone.kind_of(&visit), &visit);
    damage_reason(p.phone.history(&visit), &visit);
    let due = p.phone.stores_due_visit("am-li", day())?;
    assert_eq!(due.len(), 1, "the damaged visit does not count: {due:?}");
    let unjudged = p.phone.rules_cannot_judge("am-li")?;
    assert_eq!(unjudged.len(), 1);
    assert_eq!(
        (unjudged[0].id.clone(), unjudged[0].kind),
        (visit.clone(), Some(DocKind::Visit))
    );

    let mut all = p.changes(&visit)?;
    all.push(broken);
    let at = p.source.now()?;
    let fix = raw_change(
        &all,
        &[RawEdit::PutCheckPoint {
            key: "check_in".into(),
            at,
        }],
        "am-li",
        at,
    )?;
    p.phone.merge_from_server(&visit, &[fix])?;
    assert_eq!(p.phone.visit(&visit)?.check_in.at, at);
    assert!(p.phone.stores_due_visit("am-li", day())?.is_empty());
    assert!(p.phone.rules_cannot_judge("am-li")?.is_empty());
    Ok(())
}

#[test]
fn a_check_in_of_the_wrong_type_a_complaint_without_its_kind_and_an_unknown_kind_are_each_kept_aside()
-> Result<()> {
    let p = pair()?;
    let store = p.source.create_store(sample_store("am-li", 1))?;
    p.send(&store, &[])?;
    let visit = p.visit(&store)?;
    let complaint = p.source.create_complaint(NewComplaint {
        store_id: store.clone(),
        kind: ComplaintKind::Complaint,
        received_at: p.source.now()?,
        description: "sold a damaged carton".into(),
    })?;
    let other = p.source.create_store(sample_store("am-li", 2))?;
    let cases = [
        (
            &visit,
            RawEdit::put_str("check_in", "nine o'clock"),
            "check_in",
        ),
        (
            &complaint,
            RawEdit::delete("complaint_kind"),
            "complaint_kind",
        ),
        (&other, RawEdit::put_str("kind", "coupon"), "coupon"),
    ];
    for (id, edit, named) in &cases {
        let bad = raw_change(
            &p.changes(id)?,
            std::slice::from_ref(edit),
            "am-li",
            p.source.now()?,
        )?;
        p.send(id, &[bad])?;
        let reason = damage_reason(p.phone.kind_of(id), id);
        assert!(reason.contains(named), "{id}: {reason}");
    }
    let damaged = p.phone.damaged_documents()?;
    let kinds: Vec<_> = damaged.iter().map(|d| (d.id.clone(), d.kind)).collect();
    let mut expected = vec![
        (visit, Some(DocKind::Visit)),
        (complaint, Some(DocKind::Complaint)),
        (other, None),
    ];
    expected.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    assert_eq!(kinds, expected);
    // The readable store's documents still read, and the store is judged.
    p.phone.store(&store)?;
    assert_eq!(p.phone.stores_due_visit("am-li", day())?.len(), 1);
    Ok(())
}

#[test]
fn a_damaged_document_survives_reopening_and_is_forgotten_when_it_leaves_the_scope() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("phone.db");
    let (source, _) = device(dir.path().join("source.db"), "am-li", start())?;
    let store = source.create_store(sample_store("am-li", 1))?;
    let display = source.create_shelf_display(&store)?;
    let mut changes = source.export_changes(&display, &[])?;
    let now = source.now()?;
    let banana = RawEdit::verdict(DisplayStandard::PriceTagBox, "banana", "am-li", now);
    changes.push(raw_change(&changes, &[banana], "am-li", now)?);
    {
        let (phone, _) = device(&path, "am-li", start())?;
        phone.merge_from_server(&store, &source.export_changes(&store, &[])?)?;
        phone.merge_from_server(&display, &changes)?;
    }
    let (phone, _) = device(&path, "am-li", start())?;
    assert_eq!(phone.damaged_documents()?.len(), 1);
    damage_reason(phone.shelf_display(&display), &display);
    phone.documents_left_scope(std::slice::from_ref(&display))?;
    assert!(phone.damaged_documents()?.is_empty());
    assert!(matches!(
        phone.shelf_display(&display),
        Err(Error::NotFound { .. })
    ));
    Ok(())
}
