//! Only a photo's owner, the user who attached it first, uploads its bytes: another account
//! manager who learned the hash and wrote it into a visit of her own can neither learn where
//! the owner's upload stands nor send a piece of it. Before, she could end the owner's
//! upload at will: one empty `PATCH` at the offset the owner had reached, with that offset
//! as `Upload-Length`, made the server hash the half photo, answer `422 hash_mismatch` and
//! remove the owner's partial upload, at no cost to her quota, after every piece the owner
//! sent (found by a review acting as an account manager with a valid token). The real
//! server binary on 127.0.0.1, SQLite, the folder blob store.
//!
//! Shown to catch what it guards, once, in a scratch edit (reverted): with uploads allowed
//! to anyone whose in-scope document references the hash (the rule before), both tests
//! failed at their first status (`partial` for zhao and for the supervisor); the review's
//! own test had shown the empty piece removing li's upload under that rule.

use fieldsync_tests::Backend;
use fieldsync_tests::photo_setup::{
    Setup, blob_status, partial_file, patch, quote_photo, setup, visit_with_photo,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Li's visit with a photo on the server and the first half of the photo uploaded; zhao's
/// visit quoting it. Li's visit, the photo's hash, its bytes, the half, zhao's visit.
async fn half_uploaded_and_quoted(
    s: &Setup,
) -> Result<(String, String, Vec<u8>, u64, String), Box<dyn std::error::Error>> {
    let (li_visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 11, 1600, 1200)?;
    s.li.sync().await?;
    let base = s.district.server.base_url();
    let half = (jpeg.len() / 2) as u64;
    let url = format!("{base}/v1/blobs/{}?doc={li_visit}", photo.hash);
    let token = s.li.config().token.clone();
    let (status, body) = patch(
        &url,
        &token,
        0,
        jpeg.len() as u64,
        jpeg[..half as usize].to_vec(),
    )
    .await?;
    assert_eq!(
        (status, body["committed"].as_u64()),
        (200, Some(half)),
        "{body}"
    );
    let (zhao_visit, _) = quote_photo(&s.zhao, &jpeg).await?;
    Ok((
        li_visit.to_string(),
        photo.hash,
        jpeg,
        half,
        zhao_visit.to_string(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_progress_is_not_discarded_by_a_piece_another_user_sends() -> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (li_visit, hash, jpeg, half, zhao_visit) = half_uploaded_and_quoted(&s).await?;
    let base = s.district.server.base_url();
    let (li_token, zhao_token) = (s.li.config().token.clone(), s.zhao.config().token.clone());

    let (state, committed) = blob_status(&base, &zhao_token, &hash, &zhao_visit).await?;
    assert_eq!(
        (state.as_str(), committed),
        ("refused", 0),
        "zhao learns nothing of li's upload"
    );
    let zhao_url = format!("{base}/v1/blobs/{hash}?doc={zhao_visit}");
    // An empty piece that would end the upload where li's stands, and the rest of the
    // photo as junk, with the right length.
    let junk = vec![0u8; jpeg.len() - half as usize];
    for (length, body) in [(half, Vec::new()), (jpeg.len() as u64, junk)] {
        let (status, answer) = patch(&zhao_url, &zhao_token, half, length, body).await?;
        assert_eq!(status, 404, "zhao's piece was taken: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("only the user who attached a photo first")),
            "{answer}"
        );
    }

    let (state, committed) = blob_status(&base, &li_token, &hash, &li_visit).await?;
    assert_eq!(
        (state.as_str(), committed),
        ("partial", half),
        "li's upload stands"
    );
    assert!(partial_file(&s.district, &hash).exists());
    // Li ends her upload, and the photo is whole; zhao is then told it is complete (her
    // phone, holding the same bytes, need not send them).
    let li_url = format!("{base}/v1/blobs/{hash}?doc={li_visit}");
    let rest = jpeg[half as usize..].to_vec();
    let (status, answer) = patch(&li_url, &li_token, half, jpeg.len() as u64, rest).await?;
    assert_eq!(
        (status, answer["complete"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let (state, committed) = blob_status(&base, &zhao_token, &hash, &zhao_visit).await?;
    assert_eq!((state.as_str(), committed), ("complete", jpeg.len() as u64));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_whose_scope_holds_the_visit_may_not_upload_the_photo_of_an_account_manager()
-> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (li_visit, hash, jpeg, half, _) = half_uploaded_and_quoted(&s).await?;
    s.wang.sync().await?;
    let base = s.district.server.base_url();
    let wang_token = s.wang.config().token.clone();
    let (state, _) = blob_status(&base, &wang_token, &hash, &li_visit).await?;
    assert_eq!(state, "refused", "where li's upload stands is li's");
    let url = format!("{base}/v1/blobs/{hash}?doc={li_visit}");
    let (status, answer) = patch(&url, &wang_token, half, half, Vec::new()).await?;
    assert_eq!(status, 404, "{answer}");
    let li_token = s.li.config().token.clone();
    let (state, committed) = blob_status(&base, &li_token, &hash, &li_visit).await?;
    assert_eq!((state.as_str(), committed), ("partial", half));
    assert!(jpeg.len() as u64 > half);
    Ok(())
}
