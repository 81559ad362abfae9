//! A document whose own photos have not reached the server stays on the phone when it
//! leaves (its store left the scope, it left the working set, a fetched copy expired), as
//! one whose edits wait for the server does: the photo is the user's saved evidence, and
//! the upload goes through a document the server holds. Once each photo is uploaded, or
//! blocked (the server refused it, its file is gone), the document goes.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, LocalStore, NewVisit, Receipt, StoreOptions, Timestamp,
    VisitKind,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

/// A phone with a visit, one photo of it, and the visit confirmed by the server.
fn visit_with_photo(dir: &tempfile::TempDir) -> fieldsync_core::Result<(LocalStore, DocId)> {
    let clock = ManualClock::starting_at(t("2026-11-23T09:00:00+08:00"));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    let db = LocalStore::open(
        dir.path().join("am-li.db"),
        DeviceIdentity::new("am-li", "am-li-phone"),
        options,
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit = db.create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: t("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    db.add_photo(
        &PhotoTarget::Visit(visit.clone()),
        PhotoSource::Bytes(&sample_jpeg(640, 480, 30)),
        &PhotoMeta::default(),
    )?;
    for doc in db.outbox_batch(100)? {
        db.confirm_pushed(&doc.id, doc.local_edits, &doc.heads)?;
    }
    Ok((db, visit))
}

#[test]
fn a_visit_whose_photo_is_not_uploaded_stays_on_the_phone_when_its_store_leaves_the_scope_until_it_is()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, visit) = visit_with_photo(&dir)?;

    assert_eq!(db.documents_left_scope(std::slice::from_ref(&visit))?, 0);
    assert_eq!(
        db.receipt(&visit)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 1
        },
        "kept while its photo waits"
    );
    assert_eq!(db.pending_photos(false, 10)?.len(), 2);

    for p in db.pending_photos(false, 10)? {
        db.mark_photo_uploaded(&p.hash)?;
    }
    assert_eq!(db.drop_left_documents()?, 1, "let go once its photo is up");
    assert!(db.receipt(&visit).is_err());
    let progress = db.photo_progress(None)?;
    assert_eq!((progress.photos_uploaded, progress.photos_total), (1, 1));
    Ok(())
}

#[test]
fn a_photo_that_cannot_be_sent_is_counted_blocked_with_its_reason_and_lets_its_document_go()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, visit) = visit_with_photo(&dir)?;
    assert_eq!(db.documents_left_scope(std::slice::from_ref(&visit))?, 0);

    let queue = db.pending_photos(false, 10)?;
    for p in &queue {
        db.block_photo(
            &p.hash,
            "the server refused it: its document is not in scope",
        )?;
    }
    assert_eq!(db.drop_left_documents()?, 1);
    assert!(db.pending_photos(false, 10)?.is_empty(), "not asked again");
    let progress = db.photo_progress(None)?;
    assert_eq!(
        (
            progress.photos_uploaded,
            progress.photos_blocked,
            progress.photos_total,
            progress.bytes_waiting
        ),
        (0, 1, 1, 0),
        "complete: every photo is uploaded or blocked"
    );
    let blocked = db.blocked_photos()?;
    assert_eq!(blocked.len(), 2, "{blocked:?}");
    assert!(blocked.iter().all(|b| b.reason.contains("not in scope")
        && b.docs == [visit.to_string()]
        && b.path.is_file()));

    assert_eq!(db.retry_blocked_photos()?, 2);
    assert_eq!(db.pending_photos(false, 10)?.len(), 2, "queued again");
    Ok(())
}
