//! A request a phone sent with its old token, answered `401` only after the phone took a
//! rotated token (the server retired the old one at the rotation's confirming pull), is
//! sent once more with the new token instead of failing as "enroll again": a fetch, a
//! photo's status, a chunk of its upload, a piece of its download. Against a stand-in
//! server on 127.0.0.1 ([`fieldsync_tests::rotating_stand_in`]) that holds such a request
//! until the sync has rotated, or refuses the old token to a second client of the store.
//! A `401` to the token the phone still holds is not tried again; a retry after a rotation
//! does not use up the retries a failing link is allowed.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::fixtures::{at, device, routine_visit, sample_store};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{AddedPhoto, PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{DocId, LocalStore, PhotoSettings, SyncClient, SyncConfig, SyncFailure};
use fieldsync_tests::rotating_stand_in::{NEW, OLD, Route, StandIn};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(10);

/// A phone's store for the stand-in's tests.
fn phone(
    dir: &tempfile::TempDir,
    name: &str,
) -> Result<Arc<LocalStore>, Box<dyn std::error::Error>> {
    let (phone, _) = device(
        dir.path().join(format!("{name}.db")),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    Ok(Arc::new(phone))
}

/// A client of `phone` that holds the enrolled token, [`OLD`].
fn client(stand: &StandIn, phone: &Arc<LocalStore>) -> fieldsync_core::Result<SyncClient> {
    SyncClient::new(SyncConfig::new(stand.url(), OLD), phone.clone())
}

/// A visit with one photo, made on `phone`: the visit and the photo.
fn visit_with_photo(phone: &LocalStore) -> Result<(DocId, AddedPhoto), Box<dyn std::error::Error>> {
    let store = phone.create_store(sample_store("am-li", 1))?;
    let visit = phone.create_visit(routine_visit(&store, at("2026-11-23T09:05:00+08:00")))?;
    let photo = phone.add_photo(
        &PhotoTarget::Visit(visit.clone()),
        PhotoSource::Bytes(&sample_jpeg(320, 240, 7)),
        &PhotoMeta {
            caption: "shelf".into(),
            ..PhotoMeta::default()
        },
    )?;
    Ok((visit, photo))
}

/// Small chunks: an upload or download takes several requests.
fn settings() -> PhotoSettings {
    PhotoSettings {
        chunk_bytes: 4 * 1024,
        ..PhotoSettings::default()
    }
}

/// The tokens the stand-in saw on `route`, in order, are `expected`.
fn tokens(stand: &StandIn, route: Route, expected: &[&str]) {
    assert_eq!(stand.tokens_of(route), expected, "{:?}", stand.seen());
}

/// Lets the stand-in rotate and syncs `client`, which takes the new token, keeps it in its
/// store and retires the old one with its confirming pull.
async fn rotate_through(stand: &StandIn, client: &SyncClient) -> TestResult {
    stand.rotate();
    let report = tokio::time::timeout(WAIT, client.sync(&|_| {})).await??;
    assert!(report.token_rotated);
    Ok(())
}

/// Lets the stand-in rotate, syncs `client` (which takes the new token and retires the old
/// one with its confirming pull), then releases the held request.
async fn rotate_while_held(stand: &StandIn, client: &SyncClient) -> TestResult {
    stand.held().await?;
    rotate_through(stand, client).await?;
    stand.release();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_refused_because_a_rotation_replaced_its_token_meanwhile_is_sent_again_with_the_new_token()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let client = Arc::new(client(&stand, &phone(&dir, "li")?)?);
    stand.hold(Route::Fetch)?;

    let fetching = client.clone();
    let fetch = tokio::spawn(async move { fetching.fetch_documents(&[DocId::new()]).await });
    rotate_while_held(&stand, &client).await?;
    let fetched = tokio::time::timeout(WAIT, fetch).await??;
    assert!(fetched.is_ok(), "{fetched:?}");
    tokens(&stand, Route::Fetch, &[OLD, NEW]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_refused_with_the_token_the_phone_still_holds_is_unauthorized_at_once() -> TestResult
{
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let client = client(&stand, &phone(&dir, "li")?)?;
    // Nothing rotated: the refusal is the device's, and is not tried again.
    stand.retire();
    let fetched = tokio::time::timeout(WAIT, client.fetch_documents(&[DocId::new()])).await?;
    assert!(
        matches!(fetched, Err(SyncFailure::Unauthorized(_))),
        "{fetched:?}"
    );
    assert_eq!(stand.seen().len(), 1, "one request: {:?}", stand.seen());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_of_the_store_refused_after_the_first_rotated_takes_the_kept_token_and_sends_again()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir, "li")?;
    // Both built before any rotation: both hold the old token in memory.
    let syncing = client(&stand, &phone)?;
    let fetching = client(&stand, &phone)?;
    rotate_through(&stand, &syncing).await?;

    let fetched = tokio::time::timeout(WAIT, fetching.fetch_documents(&[DocId::new()])).await?;
    assert!(fetched.is_ok(), "{fetched:?}");
    tokens(&stand, Route::Fetch, &[OLD, NEW]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_chunk_refused_because_a_rotation_replaced_its_token_meanwhile_is_sent_again_and_the_upload_completes()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir, "li")?;
    let (_, photo) = visit_with_photo(&phone)?;
    let client = Arc::new(client(&stand, &phone)?);
    // The visit reaches the server with the old token, nothing rotated yet.
    tokio::time::timeout(WAIT, client.sync(&|_| {})).await??;
    stand.hold(Route::BlobUpload)?;

    let uploading = client.clone();
    let upload = tokio::spawn(async move { uploading.upload_photos(&settings(), &|_| {}).await });
    rotate_while_held(&stand, &client).await?;
    let report = tokio::time::timeout(WAIT, upload).await??;
    let report = report?;
    assert_eq!((report.thumbnails_sent, report.photos_sent), (1, 1));
    assert!(report.refused.is_empty(), "{report:?}");
    let uploads = stand.tokens_of(Route::BlobUpload);
    assert_eq!(uploads[..2], [OLD, NEW], "{:?}", stand.seen());
    assert!(uploads[2..].iter().all(|t| t == NEW), "{uploads:?}");
    let sent = phone.photo_folder().path_of(&photo.hash)?;
    assert_eq!(stand.blob(&photo.hash), Some(std::fs::read(sent)?));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_status_refused_to_a_second_client_after_the_first_rotated_is_asked_again_with_the_kept_token()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir, "li")?;
    visit_with_photo(&phone)?;
    let syncing = client(&stand, &phone)?;
    let uploading = client(&stand, &phone)?;
    rotate_through(&stand, &syncing).await?;

    let report =
        tokio::time::timeout(WAIT, uploading.upload_photos(&settings(), &|_| {})).await??;
    assert_eq!((report.thumbnails_sent, report.photos_sent), (1, 1));
    assert_eq!(
        stand.tokens_of(Route::BlobStatus),
        [OLD, NEW, NEW],
        "the thumbnails' status twice, the photos' once: {:?}",
        stand.seen()
    );
    assert!(stand.tokens_of(Route::BlobUpload).iter().all(|t| t == NEW));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_download_refused_because_a_rotation_replaced_its_token_meanwhile_is_asked_again_and_the_photo_arrives()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    // The photo another phone took, on the server.
    let other = phone(&dir, "other")?;
    let (visit, photo) = visit_with_photo(&other)?;
    let bytes = std::fs::read(other.photo_folder().path_of(&photo.hash)?)?;
    stand.put_blob(&photo.hash, bytes.clone())?;

    let client = Arc::new(client(&stand, &phone(&dir, "wang")?)?);
    stand.hold(Route::BlobDownload)?;
    let fetching = client.clone();
    let hash = photo.hash.clone();
    let fetch = tokio::spawn(async move {
        fetching
            .fetch_photo(&visit, &hash, false, &PhotoSettings::default())
            .await
    });
    rotate_while_held(&stand, &client).await?;
    let path = tokio::time::timeout(WAIT, fetch).await???;
    assert_eq!(std::fs::read(path)?, bytes);
    tokens(&stand, Route::BlobDownload, &[OLD, NEW]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_upload_refused_with_the_token_the_phone_still_holds_is_unauthorized_at_once()
-> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir, "li")?;
    visit_with_photo(&phone)?;
    let client = client(&stand, &phone)?;
    tokio::time::timeout(WAIT, client.sync(&|_| {})).await??;
    stand.retire();
    let report = tokio::time::timeout(WAIT, client.upload_photos(&settings(), &|_| {})).await?;
    assert!(
        matches!(report, Err(SyncFailure::Unauthorized(_))),
        "{report:?}"
    );
    tokens(&stand, Route::BlobStatus, &[OLD]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_rotation_leaves_the_retries_of_a_failing_link_untouched() -> TestResult {
    let stand = StandIn::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir, "li")?;
    let syncing = client(&stand, &phone)?;
    let mut config = SyncConfig::new(stand.url(), OLD);
    // Two tries for a failing link: the first request with the kept token fails, the
    // second must still be allowed.
    config.max_attempts = 2;
    let fetching = SyncClient::new(config, phone.clone())?;
    rotate_through(&stand, &syncing).await?;
    stand.fail(Route::Fetch, 1)?;

    let fetched = tokio::time::timeout(WAIT, fetching.fetch_documents(&[DocId::new()])).await?;
    assert!(fetched.is_ok(), "{fetched:?}");
    tokens(&stand, Route::Fetch, &[OLD, NEW, NEW]);
    Ok(())
}
