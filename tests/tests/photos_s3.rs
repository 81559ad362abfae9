//! Photos in an S3-compatible store shared by two server instances on one PostgreSQL
//! database: a real S3 server on 127.0.0.1 (`scripts/s3` starts s3s-fs; its endpoint in
//! `FIELDSYNC_TEST_S3`; `scripts/test` sets it). An upload started through one instance
//! resumes through the other, and the other serves the photo and its thumbnail.

use fieldsync_core::fixtures::at;
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{CheckPoint, NewVisit, PhotoSettings, Role, VisitKind};
use fieldsync_tests::Backend;
use fieldsync_tests::district::{District, StoreRow, licence};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_through_one_instance_resumes_through_the_other_and_both_serve_it()
-> TestResult {
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
    // A prefix of its own, so runs never see each other's objects.
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
    let monday = at("2026-11-23T09:00:00+08:00");
    let mut li = district.enroll("am-li", "li-phone", monday).await?; // instance 0
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
    wang.sync().await?;
    let full = wang
        .client()
        .fetch_photo(&visit, &photo.hash, false, &settings)
        .await?;
    assert_eq!(std::fs::read(full)?, jpeg);
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
