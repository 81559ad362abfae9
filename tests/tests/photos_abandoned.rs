//! Uploads abandoned part-way, end to end on the folder store, on SQLite and on
//! PostgreSQL: `admin blob-gc` removes a partial upload nobody wrote to for longer than
//! `--abandoned-days` (7 by default) and keeps a younger one; the device that comes back
//! to the collected one is told the server holds 0 bytes of it, by the status request
//! and by a `PATCH` at its old offset, and its client sends it again from byte 0 while
//! the younger upload resumes where it stopped. (The same on S3: `photos_s3.rs`.)

use std::time::{Duration, SystemTime};

use fieldsync_tests::Backend;
use fieldsync_tests::photo_setup::{
    blob_file, blob_status, partial_file, patch, settings, setup, visit_with_photo,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn a_collected_upload_starts_again_from_0(backend: Backend) -> TestResult {
    let s = setup(backend).await?;
    let (old_visit, old, old_jpeg) = visit_with_photo(&s.li, &s.store, 11, 1600, 1200)?;
    let (young_visit, young, young_jpeg) = visit_with_photo(&s.li, &s.store, 12, 1600, 1200)?;
    s.li.sync().await?;
    let base = s.district.server.base_url();
    let token = s.li.config().token.clone();
    let first = 64 * 1024;
    let old_url = format!("{base}/v1/blobs/{}?doc={old_visit}", old.hash);
    let young_url = format!("{base}/v1/blobs/{}?doc={young_visit}", young.hash);
    for (url, jpeg) in [(&old_url, &old_jpeg), (&young_url, &young_jpeg)] {
        let (code, body) = patch(url, &token, 0, jpeg.len() as u64, jpeg[..first].to_vec()).await?;
        assert_eq!(code, 200, "{body}");
    }
    // The first upload was last written to eight days ago, the second just now.
    let eight_days_ago = SystemTime::now() - Duration::from_secs(8 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(partial_file(&s.district, &old.hash))?
        .set_modified(eight_days_ago)?;

    let dry = s.district.server.admin(&["blob-gc", "--dry-run"])?;
    assert!(
        dry.contains(
            "would remove 1 abandoned upload(s), 65536 bytes; kept 1 written to within 7 day(s)"
        ),
        "{dry}"
    );
    assert!(
        partial_file(&s.district, &old.hash).exists(),
        "a dry run removes nothing"
    );
    let done = s.district.server.admin(&["blob-gc"])?;
    assert!(
        done.contains(
            "removed 1 abandoned upload(s), 65536 bytes; kept 1 written to within 7 day(s)"
        ),
        "{done}"
    );
    assert!(!partial_file(&s.district, &old.hash).exists());
    assert!(
        partial_file(&s.district, &young.hash).exists(),
        "younger: kept"
    );

    // The device comes back: 0 bytes of the collected one, all of the younger one's.
    let old_doc = old_visit.as_str();
    let young_doc = young_visit.as_str();
    assert_eq!(
        blob_status(&base, &token, &old.hash, old_doc).await?,
        ("missing".to_owned(), 0)
    );
    assert_eq!(
        blob_status(&base, &token, &young.hash, young_doc).await?,
        ("partial".to_owned(), first as u64)
    );
    let rest = old_jpeg[first..first * 2].to_vec();
    let (code, body) = patch(&old_url, &token, first as u64, old_jpeg.len() as u64, rest).await?;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"], "offset_mismatch");

    let report =
        s.li.client()
            .upload_photos(&settings(first), &|_| {})
            .await?;
    assert_eq!(report.photos_sent, 2, "{report:?}");
    assert_eq!(
        report.resumed,
        vec![(young.hash.clone(), first as u64)],
        "the younger upload resumed; the collected one started from 0"
    );
    let thumbs = old.thumb_bytes + young.thumb_bytes;
    assert_eq!(
        report.bytes_sent,
        thumbs + old.bytes + (young.bytes - first as u64),
        "the collected photo was sent whole again"
    );
    assert_eq!(std::fs::read(blob_file(&s.district, &old.hash))?, old_jpeg);
    assert_eq!(
        std::fs::read(blob_file(&s.district, &young.hash))?,
        young_jpeg
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_abandoned_past_its_period_is_collected_and_the_device_starts_it_again_from_0_on_sqlite()
-> TestResult {
    a_collected_upload_starts_again_from_0(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_abandoned_past_its_period_is_collected_and_the_device_starts_it_again_from_0_on_postgres()
-> TestResult {
    a_collected_upload_starts_again_from_0(Backend::Postgres { instances: 1 }).await
}
