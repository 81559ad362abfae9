//! Photos on the phone through the public API: stored content-addressed beside the
//! SQLite file, referenced from visits, tasks, complaints and display checks in the same
//! step, queued for upload thumbnails first, cached within a budget.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{
    CheckPoint, ComplaintKind, DeviceIdentity, DisplayStandard, DocId, GpsFix, LocalStore,
    NewComplaint, NewTask, NewVisit, Receipt, StoreOptions, Timestamp, VisitKind,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn open(dir: &tempfile::TempDir, user: &str) -> LocalStore {
    let clock = ManualClock::starting_at(t("2026-11-23T09:00:00+08:00"));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    LocalStore::open(
        dir.path().join(format!("{user}.db")),
        DeviceIdentity::new(user, format!("{user}-phone")),
        options,
    )
    .expect("open store")
}

fn visit(db: &LocalStore, store: &DocId) -> DocId {
    db.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: t("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })
    .expect("visit")
}

fn meta(caption: &str) -> PhotoMeta {
    PhotoMeta {
        caption: caption.into(),
        taken_at: Some(t("2026-11-23T09:06:00+08:00")),
        gps: Some(GpsFix::wgs84(30.27, 120.15, 6.0)),
    }
}

#[test]
fn a_photo_added_to_a_visit_is_stored_beside_the_database_and_referenced_with_its_thumbnail()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let jpeg = sample_jpeg(1600, 1200, 1);
    let added = db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::Bytes(&jpeg),
        &meta("counter"),
    )?;

    let path = db
        .local_photo(&added.hash)?
        .expect("the photo is on the phone");
    assert!(path.starts_with(dir.path().join("am-li.db-photos")));
    assert_eq!(std::fs::read(&path)?, jpeg);
    assert!(db.local_photo(&added.thumb)?.is_some());
    assert!(added.thumb_bytes < 60 * 1024, "{} bytes", added.thumb_bytes);
    let photos = db.visit(&id)?.photos;
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].hash, added.hash);
    assert_eq!(photos[0].thumb.as_deref(), Some(added.thumb.as_str()));
    assert_eq!(photos[0].bytes, Some(jpeg.len() as u64));
    assert_eq!(photos[0].taken_at, Some(t("2026-11-23T09:06:00+08:00")));
    Ok(())
}

#[test]
fn the_same_photo_added_twice_is_stored_once_and_queued_once() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let jpeg = sample_jpeg(800, 600, 2);
    let file = dir.path().join("camera.jpg");
    std::fs::write(&file, &jpeg)?;
    let a = db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::Bytes(&jpeg),
        &meta("a"),
    )?;
    let b = db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::File(&file),
        &meta("b"),
    )?;
    assert_eq!(a, b);
    let files = std::fs::read_dir(dir.path().join("am-li.db-photos"))?
        .flatten()
        .filter(|e| e.path().is_file())
        .count();
    assert_eq!(files, 2, "one photo and one thumbnail");
    assert_eq!(db.pending_photos(false, 10)?.len(), 2);
    assert_eq!(db.visit(&id)?.photos.len(), 1);
    Ok(())
}

#[test]
fn tasks_complaints_and_display_checks_take_photos_too() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let task = db.create_task(NewTask {
        store_id: store.clone(),
        title: "fix tags".into(),
        description: "four price tags missing".into(),
        assignee: "am-li".into(),
        deadline: t("2026-11-30T18:00:00+08:00"),
        origin: None,
    })?;
    let complaint = db.create_complaint(NewComplaint {
        store_id: store.clone(),
        kind: ComplaintKind::Complaint,
        received_at: t("2026-11-23T08:00:00+08:00"),
        description: "cartons arrived crushed".into(),
    })?;
    let display = db.create_shelf_display(&store)?;
    let targets = [
        PhotoTarget::Task(task.clone()),
        PhotoTarget::Complaint(complaint.clone()),
        PhotoTarget::DisplayCheck {
            display: display.clone(),
            standard: Some(DisplayStandard::PriceTagBox),
        },
    ];
    for (i, target) in targets.iter().enumerate() {
        let jpeg = sample_jpeg(400, 300, 10 + i as u32);
        let added = db.add_photo(target, PhotoSource::Bytes(&jpeg), &meta("evidence"))?;
        let photos = db.photos_of(target.doc_id())?;
        assert_eq!(photos.len(), 1, "{target:?}");
        assert_eq!(photos[0].hash, added.hash);
    }
    assert_eq!(db.task(&task)?.after_photos.len(), 1);
    let shown = db.photos_of(&display)?;
    assert_eq!(shown[0].standard.as_deref(), Some("price_tag_box"));
    Ok(())
}

#[test]
fn bytes_that_are_no_image_are_refused_and_nothing_is_stored_or_referenced()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let err = db
        .add_photo(
            &PhotoTarget::Visit(id.clone()),
            PhotoSource::Bytes(b"GIF89a..."),
            &meta("x"),
        )
        .expect_err("refused");
    assert!(err.to_string().contains("JPEG or PNG"), "{err}");
    assert!(db.visit(&id)?.photos.is_empty());
    assert!(db.pending_photos(false, 10)?.is_empty());
    Ok(())
}

#[test]
fn uploads_are_queued_thumbnails_first_and_metered_leaves_full_photos_waiting()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    for seed in 0..3 {
        let jpeg = sample_jpeg(640, 480, 20 + seed);
        db.add_photo(
            &PhotoTarget::Visit(id.clone()),
            PhotoSource::Bytes(&jpeg),
            &meta("p"),
        )?;
    }
    let queue = db.pending_photos(false, 10)?;
    let kinds: Vec<bool> = queue.iter().map(|p| p.thumbnail).collect();
    assert_eq!(kinds, [true, true, true, false, false, false]);
    assert!(db.pending_photos(true, 10)?.iter().all(|p| p.thumbnail));

    assert_eq!(db.receipt(&id)?, Receipt::SavedOnPhone);
    for doc in db.outbox_batch(100)? {
        db.confirm_pushed(&doc.id, doc.local_edits, &doc.heads)?;
    }
    assert_eq!(
        db.receipt(&id)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 3
        }
    );
    for p in queue.iter().filter(|p| !p.thumbnail).take(2) {
        db.mark_photo_uploaded(&p.hash)?;
    }
    assert_eq!(
        db.receipt(&id)?,
        Receipt::UploadingPhotos {
            uploaded: 2,
            total: 3
        }
    );
    for p in &queue {
        db.mark_photo_uploaded(&p.hash)?;
    }
    assert_eq!(db.receipt(&id)?, Receipt::OnServer);
    Ok(())
}

#[test]
fn the_cache_evicts_fetched_photos_oldest_first_and_never_the_phones_own_unsent_ones()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let own = db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::Bytes(&sample_jpeg(640, 480, 30)),
        &meta("own"),
    )?;
    let folder = db.photo_folder();
    let mut fetched = Vec::new();
    for i in 0..3u8 {
        let (hash, len) = folder.put_bytes(&[i; 1000])?;
        db.cache_fetched_photo(&hash, false, len, &id, 2500)?;
        fetched.push(hash);
    }
    assert!(
        db.local_photo(&fetched[0])?.is_none(),
        "the oldest fetched photo went"
    );
    assert!(db.local_photo(&fetched[1])?.is_some());
    assert!(db.local_photo(&fetched[2])?.is_some());
    assert!(
        db.local_photo(&own.hash)?.is_some(),
        "own photos are never evicted"
    );
    assert!(!folder.has(&fetched[0]));
    Ok(())
}

#[test]
fn an_orphan_file_left_by_a_crash_before_the_document_was_written_is_removed()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let kept = db.add_photo(
        &PhotoTarget::Visit(id),
        PhotoSource::Bytes(&sample_jpeg(320, 200, 40)),
        &meta("kept"),
    )?;
    let (orphan, _) = db.photo_folder().put_bytes(b"written, then the app died")?;
    assert_eq!(db.remove_orphan_photos()?, 1);
    assert!(!db.photo_folder().has(&orphan));
    assert!(db.local_photo(&kept.hash)?.is_some());
    Ok(())
}

#[test]
fn an_orphan_photo_file_is_removed_when_the_store_is_opened_again() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let kept = db.add_photo(
        &PhotoTarget::Visit(id),
        PhotoSource::Bytes(&sample_jpeg(320, 200, 41)),
        &meta("kept"),
    )?;
    let (orphan, _) = db
        .photo_folder()
        .put_bytes(b"the app died before the document")?;
    drop(db);
    let db = open(&dir, "am-li");
    assert!(!db.photo_folder().has(&orphan));
    assert!(db.local_photo(&kept.hash)?.is_some());
    assert!(db.local_photo(&kept.thumb)?.is_some());
    Ok(())
}
