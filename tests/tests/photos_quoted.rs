//! A photo is read only through the documents of its owner, the user who attached it first:
//! an account manager of another territory who knows a photo's hash (from a store that
//! moved away, from a screen) and writes it into a visit of her own reads nothing through
//! it, nor does her supervisor, and her phone, holding the same bytes, may not upload
//! them; the owner's visit serves it to the readers it should. The real server binary on
//! 127.0.0.1, on SQLite and on PostgreSQL (ADR 0033).
//!
//! Shown to catch what it guards, once each, in scratch edits (reverted): with the download
//! asking only that the document reference the hash (the rule before ADR 0033), the quoting
//! visit served the photo with `200` and the test failed at its first refusal; with the
//! owner taken from the blob's uploader (this ADR's first version, which a review showed an
//! attacker racing two instances could become), li's visit answered `404`.

use fieldsync_core::DocId;
use fieldsync_tests::Backend;
use fieldsync_tests::device::Device;
use fieldsync_tests::photo_setup::{quote_photo, settings, setup, visit_with_photo};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A raw `GET /v1/blobs/{hash}?doc=` with `device`'s token: the status and the body.
async fn download(
    device: &Device,
    hash: &str,
    doc: &DocId,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let config = device.config();
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/blobs/{hash}?doc={}",
            config.server_url,
            doc.as_str()
        ))
        .bearer_auth(&config.token)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

async fn a_quoted_hash_reads_nothing(backend: Backend) -> TestResult {
    let s = setup(backend).await?;
    let (li_visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 7, 800, 600)?;
    // Li's visit reaches the server; her photo waits for Wi-Fi.
    s.li.sync().await?;

    // Zhao writes li's photo into a visit of her own store.
    let (zhao_visit, quoted) = quote_photo(&s.zhao, &jpeg).await?;
    assert_eq!(
        (&quoted.hash, &quoted.thumb),
        (&photo.hash, &photo.thumb),
        "the same bytes name the same blobs"
    );
    // Her phone holds the bytes too, but may not upload them: only the owner does (an
    // attacker racing pieces through two instances could otherwise end up recorded as the
    // uploader, and uploading confers nothing anyway).
    let sent = s
        .zhao
        .client()
        .upload_photos(&settings(64 * 1024), &|_| {})
        .await?;
    assert_eq!((sent.thumbnails_sent, sent.photos_sent), (0, 0));
    assert_eq!(sent.refused.len(), 2, "{:?}", sent.refused);
    s.li.client()
        .upload_photos(&settings(64 * 1024), &|_| {})
        .await?;
    s.wang.sync().await?;

    for hash in [&photo.hash, &photo.thumb] {
        let (status, body) = download(&s.zhao, hash, &zhao_visit).await?;
        let message = String::from_utf8_lossy(&body);
        assert_eq!(
            status, 404,
            "zhao read li's blob through her own visit: {message}"
        );
        assert!(
            message.contains("first attached by someone who wrote no reference"),
            "{message}"
        );
        let (status, _) = download(&s.wang, hash, &zhao_visit).await?;
        assert_eq!(status, 404, "the supervisor read it through zhao's visit");
        let (status, _) = download(&s.zhao, hash, &li_visit).await?;
        assert_eq!(
            status, 404,
            "zhao read it through li's visit, outside her territory"
        );
    }
    let (status, body) = download(&s.wang, &photo.hash, &li_visit).await?;
    assert_eq!((status, body == jpeg), (200, true), "li's visit serves it");
    let (status, _) = download(&s.wang, &photo.thumb, &li_visit).await?;
    assert_eq!(status, 200, "and its thumbnail");
    let (status, body) = download(&s.li, &photo.hash, &li_visit).await?;
    assert_eq!((status, body == jpeg), (200, true), "li reads her own");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_quoted_in_another_users_visit_reads_nothing_through_it_on_sqlite() -> TestResult {
    a_quoted_hash_reads_nothing(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_quoted_in_another_users_visit_reads_nothing_through_it_on_postgres() -> TestResult {
    a_quoted_hash_reads_nothing(Backend::Postgres { instances: 1 }).await
}
