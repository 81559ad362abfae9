//! Photos in an S3-compatible store shared by two server instances on one PostgreSQL
//! database: a real S3 server on 127.0.0.1 (`scripts/s3` starts s3s-fs; its endpoint in
//! `FIELDSYNC_TEST_S3`; `scripts/test` sets it). An upload started through one instance
//! resumes through the other, and the other serves the photo and its thumbnail; an upload
//! abandoned part-way is kept by `admin blob-gc` within its period and removed after it,
//! and the device resuming it through the other instance is told 0 and starts again; two
//! instances racing the same upload both end complete, serving the photo's bytes.
//!
//! Shown to catch what it guards, once, against the assembly this replaced (hash every
//! piece, then read them all again to copy them): the race of two instances failed with a
//! `500` for a piece (the store's error is logged as internal; a piece gone under the
//! second reading is what the old assembly could not answer). The deterministic races,
//! each with the exact failure, are in `photos_s3_race.rs`.

use fieldsync_core::fixtures::at;
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{AddedPhoto, PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{CheckPoint, DocId, NewVisit, PhotoSettings, Role, VisitKind};
use fieldsync_tests::Backend;
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::photo_setup::{Fallible, blob_status, patch};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Two instances on one PostgreSQL database, their blobs in the S3 server under a prefix
/// of their own (so runs never see each other's objects), the admin CLI pointed there too.
fn s3_district() -> Fallible<District> {
    let endpoint = std::env::var("FIELDSYNC_TEST_S3").map_err(|_| {
        "FIELDSYNC_TEST_S3 is not set: run `scripts/test`, or `bash scripts/s3 start DIR` and \
         export the endpoint it prints"
    })?;
    let mut district = District::start_on(
        Backend::POSTGRES_PAIR,
        &[
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li")],
    )?;
    let prefix = format!("run-{}/", uuid::Uuid::now_v7());
    let env = [
        ("FIELDSYNC_S3_ENDPOINT", endpoint.as_str()),
        ("FIELDSYNC_S3_BUCKET", "fieldsync"),
        ("FIELDSYNC_S3_ACCESS_KEY_ID", "fieldsync"),
        ("FIELDSYNC_S3_SECRET_ACCESS_KEY", "fieldsync-secret"),
        ("FIELDSYNC_S3_PREFIX", prefix.as_str()),
    ];
    district.server.restart_with_env(&env)?;
    for other in &mut district.others {
        other.restart_with_env(&env)?;
    }
    Ok(district)
}

/// `am-li` on instance 0 and `sup-wang` on instance 1, synced; a visit of li's with a
/// photo, its document on the server and its bytes not yet.
async fn a_visit_with_a_photo(
    district: &District,
) -> Fallible<(Device, Device, DocId, AddedPhoto, Vec<u8>)> {
    let monday = at("2026-11-23T09:00:00+08:00");
    let li = district.enroll("am-li", "li-phone", monday).await?; // instance 0
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?; // instance 1
    li.sync().await?;
    wang.sync().await?;
    let store = li
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("no store")?;
    let visit = li.local().create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: li.clock().now(),
            gps: None,
        },
        complaint_id: None,
    })?;
    let jpeg = sample_jpeg(1600, 1200, 9);
    let photo = li.local().add_photo(
        &PhotoTarget::Visit(visit.clone()),
        PhotoSource::Bytes(&jpeg),
        &PhotoMeta::default(),
    )?;
    li.sync().await?;

    Ok((li, wang, visit, photo, jpeg))
}

/// The supervisor, synced, fetches the photo (through the instance it is on): the bytes.
async fn the_supervisor_fetches(
    wang: &Device,
    visit: &DocId,
    hash: &str,
    jpeg: &[u8],
) -> TestResult {
    wang.sync().await?;
    let full = wang
        .client()
        .fetch_photo(visit, hash, false, &PhotoSettings::default())
        .await?;
    assert_eq!(std::fs::read(full)?, jpeg);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_through_one_instance_resumes_through_the_other_and_both_serve_it()
-> TestResult {
    let district = s3_district()?;
    let (mut li, wang, visit, photo, jpeg) = a_visit_with_a_photo(&district).await?;
    // The first pieces through instance 0, by hand.
    let first = 100_000usize;
    let url = format!(
        "{}/v1/blobs/{}?doc={visit}",
        district.server.base_url(),
        photo.hash
    );
    let response = reqwest::Client::new()
        .patch(&url)
        .bearer_auth(&li.config().token)
        .header("upload-offset", 0)
        .header("upload-length", jpeg.len())
        .body(jpeg[..first].to_vec())
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);

    // The rest through instance 1: it sees the pieces instance 0 stored.
    let other = district.others.first().ok_or("no second instance")?;
    li.connect_to(&other.base_url())?;
    let settings = PhotoSettings {
        chunk_bytes: 64 * 1024,
        ..PhotoSettings::default()
    };
    let report = li.client().upload_photos(&settings, &|_| {}).await?;
    assert_eq!(report.photos_sent, 1);
    assert!(
        report.resumed.contains(&(photo.hash.clone(), first as u64)),
        "{:?}",
        report.resumed
    );

    // The supervisor, on instance 1, and a raw read through instance 0.
    the_supervisor_fetches(&wang, &visit, &photo.hash, &jpeg).await?;
    let thumb = wang
        .client()
        .fetch_photo(&visit, &photo.hash, true, &settings)
        .await?;
    assert!(std::fs::metadata(thumb)?.len() > 0);
    let ranged = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&li.config().token)
        .header("range", "bytes=10-19")
        .send()
        .await?;
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await?.as_ref(), &jpeg[10..20]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_abandoned_on_s3_is_collected_after_its_period_and_the_device_starts_it_again_through_the_other_instance()
-> TestResult {
    let district = s3_district()?;
    let (mut li, wang, visit, photo, jpeg) = a_visit_with_a_photo(&district).await?;
    let token = li.config().token.clone();
    let first = 100_000usize;
    let url = |base: String| format!("{base}/v1/blobs/{}?doc={visit}", photo.hash);
    let length = jpeg.len() as u64;
    let head = jpeg[..first].to_vec();
    let (code, body) = patch(&url(district.server.base_url()), &token, 0, length, head).await?;
    assert_eq!(code, 200, "{body}");

    let kept = district.server.admin(&["blob-gc"])?;
    assert!(
        kept.contains("removed 0 abandoned upload(s), 0 bytes; kept 1 written to within 7 day(s)"),
        "{kept}"
    );
    let other = district.others.first().ok_or("no second instance")?;
    let (base, doc) = (other.base_url(), visit.as_str());
    assert_eq!(
        blob_status(&base, &token, &photo.hash, doc).await?,
        ("partial".to_owned(), first as u64)
    );
    let done = district
        .server
        .admin(&["blob-gc", "--abandoned-days", "0"])?;
    assert!(
        done.contains(
            "removed 1 abandoned upload(s), 100000 bytes; kept 0 written to within 0 day(s)"
        ),
        "{done}"
    );

    // Back through the other instance: 0 bytes held, by status and by a PATCH.
    assert_eq!(
        blob_status(&base, &token, &photo.hash, doc).await?,
        ("missing".to_owned(), 0)
    );
    let next = jpeg[first..first + 1000].to_vec();
    let (code, body) = patch(&url(base.clone()), &token, first as u64, length, next).await?;
    assert_eq!(
        (code, &body["error"]),
        (409, &serde_json::json!("offset_mismatch"))
    );
    li.connect_to(&base)?;
    let settings = PhotoSettings {
        chunk_bytes: 64 * 1024,
        ..PhotoSettings::default()
    };
    let report = li.client().upload_photos(&settings, &|_| {}).await?;
    assert_eq!(report.photos_sent, 1);
    assert!(report.resumed.is_empty(), "{:?}", report.resumed);
    assert_eq!(report.bytes_sent, photo.thumb_bytes + photo.bytes);
    the_supervisor_fetches(&wang, &visit, &photo.hash, &jpeg).await?;
    Ok(())
}

/// Sends `jpeg` in `chunk`-byte pieces through `base`, each at the offset the server
/// holds, until the server says the blob is complete: the status of every answer.
async fn upload_following_the_server(
    base: &str,
    doc: &str,
    hash: &str,
    token: &str,
    jpeg: &[u8],
    chunk: usize,
) -> Fallible<Vec<u16>> {
    let url = format!("{base}/v1/blobs/{hash}?doc={doc}");
    let length = jpeg.len() as u64;
    let mut offset = 0usize;
    let mut statuses = Vec::new();
    // Every piece, and a few times as many for the other's moves (each refusal follows
    // one of its pieces), at most.
    for _ in 0..4 * (jpeg.len() / chunk + 2) {
        let end = (offset + chunk).min(jpeg.len());
        let piece = jpeg[offset..end].to_vec();
        let (code, body) = patch(&url, token, offset as u64, length, piece).await?;
        statuses.push(code);
        if code == 200 && body["complete"] == serde_json::json!(true) {
            return Ok(statuses);
        }
        let (state, committed) = match code {
            200 => (
                "partial".to_owned(),
                body["committed"].as_u64().ok_or("no committed")?,
            ),
            409 => blob_status(base, token, hash, doc).await?,
            _ => return Err(format!("`{code}` for a piece at `{offset}`: {body}").into()),
        };
        if state == "complete" {
            return Ok(statuses);
        }
        offset = usize::try_from(committed)?;
    }
    Err(format!(
        "not complete after {} requests: {statuses:?}",
        statuses.len()
    )
    .into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_the_same_upload_in_different_pieces_both_end_complete_with_the_photos_bytes()
-> TestResult {
    let district = s3_district()?;
    let (li, _wang, visit, _photo, _jpeg) = a_visit_with_a_photo(&district).await?;
    let token = li.config().token.clone();
    let bases = [
        district.server.base_url(),
        district
            .others
            .first()
            .ok_or("no second instance")?
            .base_url(),
    ];
    for seed in 20..23 {
        let jpeg = sample_jpeg(1600, 1200, seed);
        let photo = li.local().add_photo(
            &PhotoTarget::Visit(visit.clone()),
            PhotoSource::Bytes(&jpeg),
            &PhotoMeta::default(),
        )?;
        li.sync().await?;
        // The same photo through both instances at once, cut differently (two phones
        // with it, or one whose request timed out and went to the other instance).
        let (one, two) = tokio::join!(
            upload_following_the_server(
                &bases[0],
                visit.as_str(),
                &photo.hash,
                &token,
                &jpeg,
                64 * 1024
            ),
            upload_following_the_server(
                &bases[1],
                visit.as_str(),
                &photo.hash,
                &token,
                &jpeg,
                100_000
            ),
        );
        let (one, two) = (one?, two?);
        for base in &bases {
            let url = format!("{base}/v1/blobs/{}?doc={visit}", photo.hash);
            let served = reqwest::Client::new()
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            assert!(
                served.as_ref() == jpeg.as_slice(),
                "{base} serves {} bytes that are not the photo's ({one:?}, {two:?})",
                served.len()
            );
        }
    }
    Ok(())
}
