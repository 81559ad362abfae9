//! The phone's own photos reach the server, or are reported blocked, whatever becomes of
//! their document on the phone: a visit whose photo was not uploaded when its store left
//! the account manager's scope stays on the phone until the photo is settled; a photo whose
//! document the phone no longer holds (it dropped it before this rule, or set it aside as
//! damaged) still uploads through it; and a photo whose file is gone is reported by hash
//! while the pass goes on with the others. The real server binary on 127.0.0.1, SQLite.

use fieldsync_core::Receipt;
use fieldsync_tests::Backend;
use fieldsync_tests::district::licence;
use fieldsync_tests::photo_setup::{settings, setup, visit_with_photo};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_store_left_the_scope_before_it_was_uploaded_is_reported_blocked_and_progress_completes()
-> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (visit, photo, _) = visit_with_photo(&s.li, &s.store, 41, 800, 600)?;
    s.li.sync().await?;
    s.district
        .server
        .admin(&["reassign", &licence(1), "am-zhao"])?;
    s.li.sync().await?;
    assert_eq!(
        s.li.local().receipt(&visit)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 1
        },
        "the visit stays while its photo waits"
    );

    let report =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|_| {})
            .await?;
    assert!(
        report.refused.iter().any(|(h, _)| h == &photo.hash),
        "{report:?}"
    );
    let progress = s.li.local().photo_progress(None)?;
    assert_eq!(
        (
            progress.photos_uploaded,
            progress.photos_blocked,
            progress.photos_total
        ),
        (0, 1, 1),
        "settled: {progress:?}"
    );
    let blocked = s.li.local().blocked_photos()?;
    assert!(
        blocked
            .iter()
            .any(|b| b.hash == photo.hash && b.reason.contains("not in this device's scope")),
        "{blocked:?}"
    );
    assert!(
        s.li.local().receipt(&visit).is_err(),
        "the visit goes once its photo is settled"
    );
    assert!(
        s.li.local().local_photo(&photo.hash)?.is_some(),
        "the photo's file stays on the phone"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_document_the_phone_no_longer_holds_still_uploads_through_it() -> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (visit, _, _) = visit_with_photo(&s.li, &s.store, 42, 800, 600)?;
    s.li.sync().await?;
    // What an earlier build left: the visit dropped, its photo's row own and not uploaded.
    rusqlite::Connection::open(s.li.path())?
        .execute("DELETE FROM documents WHERE id = ?1", [visit.as_str()])?;
    assert!(s.li.local().receipt(&visit).is_err());

    let report =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|_| {})
            .await?;
    assert_eq!(
        (report.thumbnails_sent, report.photos_sent),
        (1, 1),
        "{report:?}"
    );
    let progress = s.li.local().photo_progress(None)?;
    assert_eq!((progress.photos_uploaded, progress.photos_total), (1, 1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_file_is_gone_is_reported_by_hash_and_the_others_still_upload() -> TestResult
{
    let s = setup(Backend::Sqlite).await?;
    let (_, gone, _) = visit_with_photo(&s.li, &s.store, 43, 800, 600)?;
    let (_, kept, _) = visit_with_photo(&s.li, &s.store, 44, 800, 600)?;
    s.li.sync().await?;
    let path = s.li.local().local_photo(&gone.hash)?.ok_or("no file")?;
    std::fs::remove_file(path)?;

    let report =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|_| {})
            .await?;
    assert_eq!(
        (report.thumbnails_sent, report.photos_sent),
        (2, 1),
        "{report:?}"
    );
    assert!(
        report
            .unreadable
            .iter()
            .any(|(h, why)| h == &gone.hash && why.contains("file")),
        "{report:?}"
    );
    assert!(s.li.local().local_photo(&kept.hash)?.is_some());
    let progress = s.li.local().photo_progress(None)?;
    assert_eq!(
        (
            progress.photos_uploaded,
            progress.photos_blocked,
            progress.photos_total
        ),
        (1, 1, 2)
    );
    Ok(())
}
