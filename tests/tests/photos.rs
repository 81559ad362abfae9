//! Photos end to end: phones with core's client, the real server binary on 127.0.0.1, on
//! SQLite and on PostgreSQL. A photo taken offline travels after its document, thumbnail
//! first; the server's bytes equal the phone's; the supervisor fetches the thumbnail, then
//! the photo, on demand; an account manager of another territory is refused the hash; a
//! body that does not match its hash is refused and nothing is kept; an upload cut in the
//! middle resumes re-sending at most one chunk; limits answer 4xx naming the limit.
//!
//! Shown to catch what it guards, once, in a scratch edit (reverted): a server that made a
//! finished upload readable without comparing its hash failed
//! `a_body_whose_bytes_do_not_match_its_hash_is_refused_and_nothing_is_kept` at its status
//! (`200` with `"complete": true` where `422` was due). The cut-upload test checks the
//! proxy's counter, so it cannot pass without the fault having fired.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldsync_core::{PhotoUploadProgress, Receipt, SyncFailure};
use fieldsync_tests::Backend;
use fieldsync_tests::fault_proxy::{FaultProxy, RequestFault};
use fieldsync_tests::photo_setup::{
    blob_file, partial_file, patch, settings, setup, visit_with_photo,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn offline_photo_travels_and_is_fetched_on_demand(backend: Backend) -> TestResult {
    let s = setup(backend).await?;
    let (visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 1, 1600, 1200)?;
    assert_eq!(s.li.local().receipt(&visit)?, Receipt::SavedOnPhone);

    s.li.sync().await?;
    assert_eq!(
        s.li.local().receipt(&visit)?,
        Receipt::UploadingPhotos {
            uploaded: 0,
            total: 1
        },
        "the document is on the server, its photo not yet"
    );
    let seen: Mutex<Vec<PhotoUploadProgress>> = Mutex::new(Vec::new());
    let report =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|p| {
                if let Ok(mut seen) = seen.lock() {
                    seen.push(p);
                }
            })
            .await?;
    assert_eq!((report.thumbnails_sent, report.photos_sent), (1, 1));
    let seen = seen.into_inner().map_err(|_| "progress lock")?;
    let first_photo_byte = seen
        .iter()
        .position(|p| p.bytes_sent > photo.thumb_bytes)
        .ok_or("no progress on the photo")?;
    assert!(
        seen[..first_photo_byte]
            .iter()
            .any(|p| p.thumbnails_done == 1 && p.photos_done == 0),
        "the thumbnail was on the server before the first byte of the photo went: {seen:?}"
    );
    assert_eq!(
        seen.last().map(|p| (p.photos_done, p.photos_total)),
        Some((1, 1))
    );
    assert_eq!(s.li.local().receipt(&visit)?, Receipt::OnServer);

    assert_eq!(std::fs::read(blob_file(&s.district, &photo.hash))?, jpeg);
    let thumb_on_phone = s.li.local().local_photo(&photo.thumb)?.ok_or("thumb")?;
    assert_eq!(
        std::fs::read(blob_file(&s.district, &photo.thumb))?,
        std::fs::read(&thumb_on_phone)?
    );
    let again =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|_| {})
            .await?;
    assert_eq!(again.chunks_sent, 0, "nothing the server has is sent again");

    // The supervisor opens the visit: the thumbnail first, then the photo.
    s.wang.sync().await?;
    let thumb = s
        .wang
        .client()
        .fetch_photo(&visit, &photo.hash, true, &settings(16 * 1024))
        .await?;
    assert_eq!(std::fs::read(&thumb)?, std::fs::read(&thumb_on_phone)?);
    let full = s
        .wang
        .client()
        .fetch_photo(&visit, &photo.hash, false, &settings(64 * 1024))
        .await?;
    assert_eq!(std::fs::read(&full)?, jpeg);

    // Another territory's account manager is refused the same hash.
    s.zhao.sync().await?;
    let refused = s
        .zhao
        .client()
        .fetch_photo(&visit, &photo.hash, false, &settings(64 * 1024))
        .await
        .expect_err("another territory's photo is refused");
    assert!(
        matches!(&refused, SyncFailure::Refused(m) if m.contains("no document")),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_offline_reaches_the_sqlite_server_thumbnail_first_and_the_supervisor_fetches_it()
-> TestResult {
    offline_photo_travels_and_is_fetched_on_demand(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_offline_reaches_the_postgres_server_thumbnail_first_and_the_supervisor_fetches_it()
-> TestResult {
    offline_photo_travels_and_is_fetched_on_demand(Backend::Postgres { instances: 1 }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_whose_bytes_do_not_match_its_hash_is_refused_and_nothing_is_kept() -> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 2, 640, 480)?;
    s.li.sync().await?;
    let url = format!(
        "{}/v1/blobs/{}?doc={visit}",
        s.district.server.base_url(),
        photo.hash
    );
    let mut forged = jpeg.clone();
    forged[100] ^= 0xff;
    let (status, body) = patch(&url, &s.li.config().token, 0, jpeg.len() as u64, forged).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "hash_mismatch");
    assert!(!blob_file(&s.district, &photo.hash).exists());
    assert!(!partial_file(&s.district, &photo.hash).exists());

    // The real bytes go through afterwards.
    let report =
        s.li.client()
            .upload_photos(&settings(1 << 20), &|_| {})
            .await?;
    assert_eq!(report.photos_sent, 1);
    assert_eq!(std::fs::read(blob_file(&s.district, &photo.hash))?, jpeg);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_mid_way_resumes_at_the_committed_offset_re_sending_at_most_one_chunk()
-> TestResult {
    let mut s = setup(Backend::Sqlite).await?;
    let proxy = FaultProxy::start(s.district.server.addr()).await?;
    s.li.connect_to(&proxy.url())?;
    let (_visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 3, 1600, 1200)?;
    s.li.sync().await?;
    let chunk = 64 * 1024;
    let armed = AtomicBool::new(false);
    let report =
        s.li.client()
            .upload_photos(&settings(chunk), &|p| {
                // After the photo's first chunk is acknowledged, the next request is cut.
                if p.thumbnails_done == 1
                    && p.bytes_sent > photo.thumb_bytes
                    && !armed.swap(true, Ordering::SeqCst)
                {
                    proxy.arm(
                        RequestFault::ResetMidRequest {
                            after_bytes: 20_000,
                        },
                        1,
                    );
                }
            })
            .await?;
    assert_eq!(proxy.stats().resets_mid_request, 1, "the fault fired");
    let chunks = |len: u64| len.div_ceil(chunk as u64) as u32;
    let needed = chunks(photo.thumb_bytes) + chunks(photo.bytes);
    assert_eq!(
        report.chunks_sent,
        needed + 1,
        "exactly the cut chunk was sent again"
    );
    assert_eq!(std::fs::read(blob_file(&s.district, &photo.hash))?, jpeg);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_over_the_size_limit_and_uploads_over_the_daily_quota_answer_4xx_naming_the_limit()
-> TestResult {
    let mut s = setup(Backend::Sqlite).await?;
    let (visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 4, 1600, 1200)?;
    s.li.sync().await?;
    let limit = (jpeg.len() / 2).to_string();
    s.district
        .server
        .restart_with_env(&[("FIELDSYNC_MAX_PHOTO_BYTES", limit.as_str())])?;
    let url = format!(
        "{}/v1/blobs/{}?doc={visit}",
        s.district.server.base_url(),
        photo.hash
    );
    let token = s.li.config().token.clone();
    let (status, body) = patch(&url, &token, 0, jpeg.len() as u64, jpeg[..1000].to_vec()).await?;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["limit"], "max_photo_bytes");
    let report =
        s.li.client()
            .upload_photos(&settings(64 * 1024), &|_| {})
            .await?;
    assert_eq!((report.thumbnails_sent, report.photos_sent), (1, 0));
    assert!(
        report
            .refused
            .iter()
            .any(|(h, why)| h == &photo.hash && why.contains("max_photo_bytes")),
        "{:?}",
        report.refused
    );

    s.district
        .server
        .restart_with_env(&[("FIELDSYNC_BLOB_BYTES_PER_DAY", "100000")])?;
    // The thumbnail's bytes count already (a few tens of KB).
    let (status, body) = patch(&url, &token, 0, jpeg.len() as u64, jpeg[..60_000].to_vec()).await?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        &url,
        &token,
        60_000,
        jpeg.len() as u64,
        jpeg[60_000..120_000].to_vec(),
    )
    .await?;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["limit"], "blob_bytes_per_day");
    assert_eq!(
        std::fs::metadata(partial_file(&s.district, &photo.hash))?.len(),
        60_000,
        "the refused piece was not kept"
    );
    Ok(())
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_killed_mid_upload_resumes_after_restart_from_the_servers_committed_offset()
-> TestResult {
    killed_mid_upload_resumes(Backend::Sqlite).await
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_killed_mid_upload_resumes_after_restart_on_postgres_too() -> TestResult {
    killed_mid_upload_resumes(Backend::Postgres { instances: 1 }).await
}

#[cfg(unix)]
async fn killed_mid_upload_resumes(backend: Backend) -> TestResult {
    use fieldsync_tests::fault_proxy::LinkShape;
    use std::os::unix::process::ExitStatusExt;

    const UPLOADER: &str = env!("CARGO_BIN_EXE_fieldsync-photo-uploader");
    let s = setup(backend).await?;
    let proxy = FaultProxy::start(s.district.server.addr()).await?;
    let (_visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 5, 1600, 1200)?;
    s.li.sync().await?;
    // A slow link, so that the kill lands in the middle of the photo.
    proxy.set_shape(LinkShape {
        bytes_per_second: Some(100_000),
        ..LinkShape::default()
    });
    let chunk = 32 * 1024u64;
    let closed = s.li.close()?;
    let mut child = std::process::Command::new(UPLOADER)
        .arg(closed.path())
        .arg(&closed.user)
        .arg(&closed.name)
        .arg(proxy.url())
        .arg(&closed.config().token)
        .arg(chunk.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let partial = partial_file(&s.district, &photo.hash);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let held = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if held >= 3 * chunk {
            break;
        }
        if std::time::Instant::now() > deadline || child.try_wait()?.is_some() {
            return Err(format!("the uploader never got 3 chunks in (held {held})").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill()?; // SIGKILL
    let status = child.wait()?;
    assert_eq!(status.signal(), Some(9), "killed, not finished");
    let committed = std::fs::metadata(&partial)?.len();
    assert!(
        committed < photo.bytes,
        "the photo was not whole when killed"
    );

    proxy.set_shape(LinkShape::default());
    let mut li = closed.open()?;
    li.connect_to(&proxy.url())?;
    let report = li
        .client()
        .upload_photos(&settings(chunk as usize), &|_| {})
        .await?;
    let resumed_at = report
        .resumed
        .iter()
        .find(|(h, _)| h == &photo.hash)
        .map(|(_, at)| *at)
        .ok_or("the upload did not resume")?;
    assert!(
        resumed_at >= committed,
        "resumed at {resumed_at}, server had {committed}"
    );
    assert_eq!(
        report.bytes_sent,
        photo.bytes - resumed_at,
        "only the bytes the server lacked were sent again"
    );
    assert_eq!(std::fs::read(blob_file(&s.district, &photo.hash))?, jpeg);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_gc_removes_unreferenced_blobs_after_retention_and_never_a_referenced_one()
-> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (_visit, photo, _jpeg) = visit_with_photo(&s.li, &s.store, 6, 640, 480)?;
    s.li.sync().await?;
    s.li.client()
        .upload_photos(&settings(1 << 20), &|_| {})
        .await?;
    // Bytes no document references (left by a crash, or a photo whose reference went).
    let orphan = "sha256:".to_owned() + &"ab".repeat(32);
    std::fs::write(blob_file(&s.district, &orphan), b"orphan")?;

    let kept = s
        .district
        .server
        .admin(&["blob-gc", "--retention-days", "30"])?;
    assert!(kept.contains("removed 0 blob(s)"), "{kept}");
    assert!(
        blob_file(&s.district, &orphan).exists(),
        "within the retention period"
    );

    let removed = s
        .district
        .server
        .admin(&["blob-gc", "--retention-days", "0"])?;
    assert!(removed.contains("removed 1 blob(s)"), "{removed}");
    assert!(!blob_file(&s.district, &orphan).exists());
    assert!(
        blob_file(&s.district, &photo.hash).exists(),
        "referenced: kept"
    );
    assert!(
        blob_file(&s.district, &photo.thumb).exists(),
        "referenced: kept"
    );
    Ok(())
}

/// The reuse report and the month's compliance report on `backend`: a photo in visits
/// pushed on two days is flagged with both uses; a photo added later to a visit the server
/// already holds is flagged too, and the visit's earlier photo still counts.
async fn reused_photos_are_flagged(backend: Backend) -> TestResult {
    let s = setup(backend).await?;
    let (first, photo, jpeg) = visit_with_photo(&s.li, &s.store, 7, 640, 480)?;
    s.li.sync().await?;
    s.li.clock().advance_minutes(24 * 60);
    let (second, again, _) = visit_with_photo(&s.li, &s.store, 7, 640, 480)?;
    assert_eq!(photo.hash, again.hash, "the same bytes");
    let (third, other, _) = visit_with_photo(&s.li, &s.store, 8, 640, 480)?;
    drop(jpeg);
    s.li.sync().await?;
    let csv = s.district.server.admin(&["photo-reuse"])?;
    let flagged: Vec<&str> = csv.lines().filter(|l| l.starts_with(&photo.hash)).collect();
    assert_eq!(flagged.len(), 2, "{csv}");
    assert!(flagged.iter().any(|l| l.contains(first.as_str())));
    assert!(flagged.iter().any(|l| l.contains(second.as_str())));
    assert!(
        !csv.contains(&other.hash),
        "a photo used once is not flagged: {csv}"
    );

    // The month's compliance report names it too, after the rows.
    let day = flagged[0].rsplit(',').next().ok_or("a day")?;
    let report = s.district.server.admin(&["report", "--month", &day[..7]])?;
    let (_, section) = report
        .split_once("\nreused_photo,visit,store,day\n")
        .ok_or_else(|| format!("no reused photos' section: {report}"))?;
    let rows: Vec<&str> = section.lines().collect();
    assert_eq!(rows.len(), 2, "{section}");
    assert!(rows.iter().all(|l| l.starts_with(&photo.hash)), "{section}");
    assert!(rows.iter().any(|l| l.contains(first.as_str())));
    assert!(rows.iter().any(|l| l.contains(second.as_str())));
    let before = s.district.server.admin(&["report", "--month", "2020-01"])?;
    assert!(
        !before.contains("reused_photo"),
        "a month without a use of it has no section: {before}"
    );

    // The third visit's photo, added a day later to the first visit (already on the server).
    s.li.clock().advance_minutes(24 * 60);
    s.li.local().add_visit_photo(&first, &other.hash, "again")?;
    s.li.sync().await?;
    let csv = s.district.server.admin(&["photo-reuse"])?;
    let of = |hash: &str| -> Vec<String> {
        csv.lines()
            .filter(|l| l.starts_with(hash))
            .map(str::to_owned)
            .collect()
    };
    let other_uses = of(&other.hash);
    assert_eq!(other_uses.len(), 2, "{csv}");
    assert!(other_uses.iter().any(|l| l.contains(first.as_str())));
    assert!(other_uses.iter().any(|l| l.contains(third.as_str())));
    assert_eq!(
        of(&photo.hash).len(),
        2,
        "the first visit's own photo still counts once the visit changed: {csv}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_photo_in_visits_on_two_days_is_flagged_by_the_reuse_report_and_the_months_compliance_report_on_sqlite()
-> TestResult {
    reused_photos_are_flagged(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_photo_in_visits_on_two_days_is_flagged_by_the_reuse_report_and_the_months_compliance_report_on_postgres()
-> TestResult {
    reused_photos_are_flagged(Backend::Postgres { instances: 1 }).await
}
