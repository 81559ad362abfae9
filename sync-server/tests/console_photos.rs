//! A store's photos in the console: thumbnails on the store page once their bytes have
//! synced, "not yet uploaded" before, and the photo route that serves them only to a
//! signed-in supervisor and only through a store whose documents reference them; a photo
//! another user attached first is flagged with that user's name.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::http::{StatusCode, header};
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};
use fieldsync_core::{DocId, Role};
use support::{Backend, Console, Fallible, TestResult, visit_at};

/// A district with a visit to S1 that references one photo (and its thumbnail), synced,
/// and a second photo referenced by a visit to S2; no bytes on the server yet.
struct Scene {
    console: Console,
    s1: DocId,
    s2: DocId,
    photo: Vec<u8>,
    hash: String,
    thumb: Vec<u8>,
    thumb_hash: String,
    other_hash: String,
}

/// Written and synced outside any runtime: PostgreSQL's client blocks.
fn scene(backend: Backend) -> Fallible<Scene> {
    let console = Console::on(100, backend)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let id = |l: &str| -> Fallible<DocId> { Ok(li.store_by_licence(l)?.ok_or(format!("no {l}"))?) };
    let (s1, s2) = (id("S1")?, id("S2")?);
    let mut added = Vec::new();
    for (store, seed) in [(&s1, 1), (&s2, 2)] {
        let visit = visit_at(&li, store, "2026-11-23T09:05:00+08:00", None)?;
        let photo = sample_jpeg(400, 300, seed);
        let meta = PhotoMeta {
            caption: "<b>shelf</b>".into(),
            ..PhotoMeta::default()
        };
        let photo_added = li.add_photo(
            &PhotoTarget::Visit(visit),
            PhotoSource::Bytes(&photo),
            &meta,
        )?;
        let thumb_path = li
            .local_photo(&photo_added.thumb)?
            .ok_or("the phone has no thumbnail file")?;
        added.push((photo, photo_added, std::fs::read(thumb_path)?));
    }
    console.sync(&li, &clock, &info)?;
    let (other, mut added) = (added.pop().ok_or("no photo")?, added);
    let (photo, first, thumb) = added.pop().ok_or("no photo")?;
    Ok(Scene {
        console,
        s1,
        s2,
        photo,
        hash: first.hash,
        thumb,
        thumb_hash: first.thumb,
        other_hash: other.1.hash,
    })
}

fn photo_path(store: &DocId, hash: &str) -> String {
    format!("/console/store/{store}/photo/{hash}")
}

#[test]
fn a_photo_not_yet_uploaded_shows_as_text_and_once_synced_as_a_thumbnail_linking_to_it()
-> TestResult {
    let s = scene(Backend::Sqlite)?;
    tokio::runtime::Runtime::new()?.block_on(not_yet_then_thumbnail(&s))
}

async fn not_yet_then_thumbnail(s: &Scene) -> TestResult {
    let (cookie, _) = s.console.signed_in("sup-wang").await?;
    let page = s
        .console
        .get(&format!("/console/store/{}", s.s1), &cookie)
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"photos\""), "{}", page.body);
    assert!(page.body.contains("尚未上传"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    // The caption is text, never markup.
    assert!(page.body.contains("&lt;b&gt;shelf&lt;/b&gt;") && !page.body.contains("<b>shelf"));

    assert_eq!(s.console.upload_blob(&s.thumb)?, s.thumb_hash);
    assert_eq!(s.console.upload_blob(&s.photo)?, s.hash);
    let page = s
        .console
        .get(&format!("/console/store/{}", s.s1), &cookie)
        .await?;
    let img = format!("<img src=\"{}\"", photo_path(&s.s1, &s.thumb_hash));
    let link = format!("<a href=\"{}\">", photo_path(&s.s1, &s.hash));
    assert!(page.body.contains(&img), "{}", page.body);
    assert!(page.body.contains(&link), "{}", page.body);
    assert!(!page.body.contains("尚未上传"), "{}", page.body);
    Ok(())
}

#[test]
fn a_thumbnail_is_served_to_a_signed_in_supervisor_as_an_image_never_cached_on_sqlite() -> TestResult
{
    let s = scene(Backend::Sqlite)?;
    tokio::runtime::Runtime::new()?.block_on(thumbnail_served(&s))
}

#[test]
fn a_thumbnail_is_served_to_a_signed_in_supervisor_as_an_image_never_cached_on_postgres()
-> TestResult {
    let s = scene(Backend::Postgres)?;
    tokio::runtime::Runtime::new()?.block_on(thumbnail_served(&s))
}

async fn thumbnail_served(s: &Scene) -> TestResult {
    s.console.upload_blob(&s.thumb)?;
    let (cookie, _) = s.console.signed_in("sup-wang").await?;
    let answer = s
        .console
        .get(&photo_path(&s.s1, &s.thumb_hash), &cookie)
        .await?;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let header = |name| answer.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header(header::CONTENT_TYPE), Some("image/jpeg"));
    assert_eq!(header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(header(header::CACHE_CONTROL), Some("no-store"));
    assert_eq!(
        header(header::CONTENT_LENGTH),
        Some(s.thumb.len().to_string().as_str())
    );
    // The body is the thumbnail's bytes (read lossily as text by the test's client).
    assert_eq!(answer.body, String::from_utf8_lossy(&s.thumb));
    Ok(())
}

#[test]
fn a_photo_is_refused_without_the_session_and_through_a_store_that_does_not_reference_it_on_sqlite()
-> TestResult {
    let s = scene(Backend::Sqlite)?;
    tokio::runtime::Runtime::new()?.block_on(refusals(&s))
}

#[test]
fn a_photo_is_refused_without_the_session_and_through_a_store_that_does_not_reference_it_on_postgres()
-> TestResult {
    let s = scene(Backend::Postgres)?;
    tokio::runtime::Runtime::new()?.block_on(refusals(&s))
}

async fn refusals(s: &Scene) -> TestResult {
    s.console.upload_blob(&s.photo)?;
    // An uploaded blob that no document of the district references at all.
    let stray = s.console.upload_blob(&sample_jpeg(64, 64, 9))?;
    let anonymous = s.console.get(&photo_path(&s.s1, &s.hash), "").await?;
    assert_ne!(anonymous.status, StatusCode::OK);
    assert!(
        anonymous
            .headers
            .get(header::CONTENT_TYPE)
            .is_none_or(|t| t != "image/jpeg")
    );
    assert!(anonymous.body.len() < 200, "{}", anonymous.body);
    let (cookie, _) = s.console.signed_in("sup-wang").await?;
    for (store, hash) in [(&s.s1, &stray), (&s.s2, &s.hash), (&s.s1, &s.other_hash)] {
        let refused = s.console.get(&photo_path(store, hash), &cookie).await?;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{store} {hash}");
        assert!(refused.body.contains("references"), "{}", refused.body);
    }
    // Referenced by S2's visit but never uploaded: not found, saying so.
    let missing = s
        .console
        .get(&photo_path(&s.s2, &s.other_hash), &cookie)
        .await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.body.contains("not on the server yet"),
        "{}",
        missing.body
    );
    let malformed = s
        .console
        .get(&photo_path(&s.s1, "sha256:xyz"), &cookie)
        .await?;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    // The one allowed: S1's own photo.
    let served = s.console.get(&photo_path(&s.s1, &s.hash), &cookie).await?;
    assert_eq!(served.status, StatusCode::OK);
    Ok(())
}

#[test]
fn a_referenced_blob_that_is_no_jpeg_or_png_is_not_served_to_the_console() -> TestResult {
    let s = scene(Backend::Sqlite)?;
    s.console.upload_blob(&s.photo)?;
    // What a forged client could upload under a hash its own visit names: bytes of no
    // image. Written here straight into the blob folder in place of S1's photo.
    let hex = s.hash.trim_start_matches("sha256:");
    let page = b"<html><body>not a photo</body></html>";
    std::fs::write(s.console.dir.join("blobs").join(hex), page)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let (cookie, _) = s.console.signed_in("sup-wang").await?;
        let refused = s.console.get(&photo_path(&s.s1, &s.hash), &cookie).await?;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
        assert!(
            refused.body.contains("not a JPEG or PNG"),
            "{}",
            refused.body
        );
        TestResult::Ok(())
    })
}

#[test]
fn a_photo_another_user_attached_first_is_flagged_on_the_store_page_with_its_owner() -> TestResult {
    let s = scene(Backend::Sqlite)?;
    s.console
        .import(&["S3,S3,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu"])?;
    let (wu, clock, info) =
        s.console
            .phone("am-wu", Role::AccountManager, "2026-11-24T09:00:00+08:00")?;
    let s3 = wu.store_by_licence("S3")?.ok_or("wu has no S3")?;
    let visit = visit_at(&wu, &s3, "2026-11-24T09:00:00+08:00", None)?;
    // Li's photo, attached by wu to a visit of hers: the same bytes, the same hash.
    let quoted = wu.add_photo(
        &PhotoTarget::Visit(visit),
        PhotoSource::Bytes(&s.photo),
        &PhotoMeta {
            caption: "my shelf".into(),
            ..PhotoMeta::default()
        },
    )?;
    assert_eq!(quoted.hash, s.hash);
    s.console.sync(&wu, &clock, &info)?;
    // Wu's phone sends the bytes: uploading confers nothing, li attached it first.
    s.console.upload_blob(&s.photo)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let (cookie, _) = s.console.signed_in("sup-wang").await?;
        let flagged = s
            .console
            .get(&format!("/console/store/{s3}"), &cookie)
            .await?;
        assert_eq!(flagged.status, StatusCode::OK, "{}", flagged.body);
        assert!(
            flagged.body.contains("同一照片已由他人先使用： am-li<"),
            "{}",
            flagged.body
        );
        let own = s
            .console
            .get(&format!("/console/store/{}", s.s1), &cookie)
            .await?;
        assert!(
            own.body.contains(&format!("data-photo=\"{}\"", s.hash)),
            "{}",
            own.body
        );
        assert!(!own.body.contains("同一照片已由他人先使用"), "{}", own.body);
        TestResult::Ok(())
    })
}
