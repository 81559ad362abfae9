//! A photo request no client of the protocol should write is refused `400` naming what
//! was wrong, on every blob route alike: a hash not in its one form, a document id not in
//! its canonical form, a missing `?doc=`. (`refused` in a status answer stays for blobs
//! the device may not have.) Against the real server on 127.0.0.1.

use fieldsync_tests::Backend;
use fieldsync_tests::photo_setup::{patch, setup, visit_with_photo};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `POST /v1/blobs/status` with `blobs` as they are: the status and the answer's message.
async fn status(
    base: &str,
    token: &str,
    blobs: serde_json::Value,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/blobs/status"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "blobs": blobs }).to_string())
        .send()
        .await?;
    let code = response.status().as_u16();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
    Ok((
        code,
        body["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_request_with_a_hash_or_an_id_out_of_form_or_no_document_is_refused_naming_it()
-> TestResult {
    let s = setup(Backend::Sqlite).await?;
    let (visit, photo, jpeg) = visit_with_photo(&s.li, &s.store, 3, 320, 240)?;
    s.li.sync().await?;
    let base = s.district.server.base_url();
    let token = s.li.config().token.clone();
    let (hash, doc) = (photo.hash.clone(), visit.to_string());
    let upper_hash = format!(
        "sha256:{}",
        hash.trim_start_matches("sha256:").to_uppercase()
    );
    let upper_doc = doc.to_uppercase();

    let (code, _) = status(
        &base,
        &token,
        serde_json::json!([{ "hash": hash, "doc": doc }]),
    )
    .await?;
    assert_eq!(code, 200, "the request in form is answered");
    for (blobs, named) in [
        (
            serde_json::json!([{ "hash": hash, "doc": doc }, { "hash": upper_hash, "doc": doc }]),
            "`blobs[1].hash`",
        ),
        (
            serde_json::json!([{ "hash": hash, "doc": upper_doc }]),
            "`blobs[0].doc`",
        ),
        (
            serde_json::json!([{ "hash": "sha256:12", "doc": doc }]),
            "`blobs[0].hash`",
        ),
    ] {
        let (code, message) = status(&base, &token, blobs.clone()).await?;
        assert_eq!(code, 400, "{blobs}: {message}");
        assert!(
            message.contains(named),
            "{blobs}: `{message}` names {named}"
        );
    }

    let url = |doc: Option<&str>| match doc {
        Some(doc) => format!("{base}/v1/blobs/{hash}?doc={doc}"),
        None => format!("{base}/v1/blobs/{hash}"),
    };
    let length = jpeg.len() as u64;
    let (code, body) = patch(&url(None), &token, 0, length, jpeg.clone()).await?;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`doc` is required"),
        "{body}"
    );
    let (code, body) = patch(&url(Some(&upper_doc)), &token, 0, length, jpeg.clone()).await?;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("canonical form"),
        "{body}"
    );

    let download = reqwest::Client::new()
        .get(url(Some(&upper_doc)))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(download.status().as_u16(), 400);
    let body: serde_json::Value = serde_json::from_slice(&download.bytes().await?)?;
    assert!(
        body["message"].as_str().unwrap_or_default().contains(&doc),
        "names the canonical id: {body}"
    );

    // In form, the same upload goes through.
    let (code, body) = patch(&url(Some(&doc)), &token, 0, length, jpeg).await?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["complete"], true);
    Ok(())
}
