//! A photo referenced more than once: by the caption-only calls after `add_photo`, and by
//! several documents at once. Each reference keeps what `add_photo` recorded, and each
//! document's receipt counts the photo until the server has it.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, GpsFix, LocalStore, NewTask, NewVisit, Receipt,
    StoreOptions, Timestamp, VisitKind,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn open(dir: &tempfile::TempDir) -> LocalStore {
    let clock = ManualClock::starting_at(t("2026-11-23T09:00:00+08:00"));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    LocalStore::open(
        dir.path().join("am-li.db"),
        DeviceIdentity::new("am-li", "am-li-phone"),
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

fn meta() -> PhotoMeta {
    PhotoMeta {
        caption: "counter".into(),
        taken_at: Some(t("2026-11-23T09:06:00+08:00")),
        gps: Some(GpsFix::wgs84(30.27, 120.15, 6.0)),
    }
}

fn confirm(db: &LocalStore, id: &DocId) -> fieldsync_core::Result<()> {
    let doc = db
        .outbox_batch(100)?
        .into_iter()
        .find(|d| &d.id == id)
        .expect("pending");
    db.confirm_pushed(&doc.id, doc.local_edits, &doc.heads)
}

#[test]
fn a_caption_given_to_a_visits_photo_keeps_its_thumbnail_size_and_time()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir);
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let jpeg = sample_jpeg(800, 600, 3);
    let added = db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::Bytes(&jpeg),
        &meta(),
    )?;

    db.add_visit_photo(&id, &added.hash, "counter, left side")?;

    let photos = db.visit(&id)?.photos;
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].caption, "counter, left side");
    assert_eq!(photos[0].thumb.as_deref(), Some(added.thumb.as_str()));
    assert_eq!(photos[0].bytes, Some(jpeg.len() as u64));
    assert_eq!(photos[0].taken_at, Some(t("2026-11-23T09:06:00+08:00")));
    Ok(())
}

#[test]
fn a_caption_given_to_a_tasks_after_photo_keeps_its_thumbnail_size_and_time()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir);
    let store = db.create_store(sample_store("am-li", 1))?;
    let task = db.create_task(NewTask {
        store_id: store.clone(),
        title: "fix tags".into(),
        description: "four price tags missing".into(),
        assignee: "am-li".into(),
        deadline: t("2026-11-30T18:00:00+08:00"),
        origin: None,
    })?;
    let jpeg = sample_jpeg(400, 300, 4);
    let added = db.add_photo(
        &PhotoTarget::Task(task.clone()),
        PhotoSource::Bytes(&jpeg),
        &meta(),
    )?;

    db.add_task_photo(&task, &added.hash, "tags in place")?;

    let photos = db.task(&task)?.after_photos;
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].caption, "tags in place");
    assert_eq!(photos[0].thumb.as_deref(), Some(added.thumb.as_str()));
    assert_eq!(photos[0].bytes, Some(jpeg.len() as u64));
    assert_eq!(photos[0].taken_at, Some(t("2026-11-23T09:06:00+08:00")));
    Ok(())
}

#[test]
fn a_photo_added_to_a_visit_and_a_display_check_keeps_the_visits_receipt_waiting_for_it()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = open(&dir);
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = visit(&db, &store);
    let display = db.create_shelf_display(&store)?;
    let jpeg = sample_jpeg(640, 480, 5);
    db.add_photo(
        &PhotoTarget::Visit(id.clone()),
        PhotoSource::Bytes(&jpeg),
        &meta(),
    )?;
    db.add_photo(
        &PhotoTarget::DisplayCheck {
            display: display.clone(),
            standard: None,
        },
        PhotoSource::Bytes(&jpeg),
        &meta(),
    )?;
    confirm(&db, &id)?;

    assert_eq!(
        db.receipt(&id)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 1
        }
    );
    assert_eq!(db.receipt(&display)?, Receipt::SavedOnPhone);
    assert_eq!(
        db.photo_progress(None)?.photos_total,
        1,
        "one photo, not two"
    );
    assert_eq!(db.pending_photos(false, 10)?.len(), 2, "queued once");
    Ok(())
}

#[test]
fn a_store_of_schema_14_opens_with_each_own_photo_referenced_by_its_document()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let visit_id = {
        let db = open(&dir);
        let store = db.create_store(sample_store("am-li", 1))?;
        let id = visit(&db, &store);
        let jpeg = sample_jpeg(640, 480, 6);
        db.add_photo(
            &PhotoTarget::Visit(id.clone()),
            PhotoSource::Bytes(&jpeg),
            &meta(),
        )?;
        confirm(&db, &id)?;
        id
    };
    {
        // Turn the file back into what schema 14 wrote.
        let conn = rusqlite::Connection::open(dir.path().join("am-li.db"))?;
        conn.execute_batch(
            "DROP TABLE photo_blocked; DROP TABLE photo_docs; PRAGMA user_version = 14;",
        )?;
    }
    let db = open(&dir);
    assert_eq!(
        db.receipt(&visit_id)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 1
        }
    );
    let queue = db.pending_photos(false, 10)?;
    assert!(
        queue.iter().all(|p| p.docs == [visit_id.to_string()]),
        "{queue:?}"
    );
    Ok(())
}
