//! What the server admits (docs/operations.md, "Connections and load"): a device's pace,
//! enrollment attempts per code, and one refusal for every code that cannot be used.
//!
//! Storage decides whether a code is unknown, used or expired, so these run on SQLite and
//! on PostgreSQL with two instances.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::Role;
use fieldsync_core::protocol::{ErrorBody, SyncRequest};
use fieldsync_server::Limits;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn server(
    backend: Backend,
    label: &str,
    limits: Limits,
) -> Fallible<(Instances, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), label, limits)?;
    server.storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    Ok((server, dir))
}

/// Posts an enrollment with `code` to `router`: status, `Retry-After`, error body.
async fn enroll(
    router: axum::Router,
    code: &str,
) -> Fallible<(StatusCode, Option<String>, ErrorBody)> {
    let body = serde_json::json!({"code": code, "device_name": "Li's phone"}).to_string();
    let request = Request::post("/v1/enroll")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))?;
    let response = router.oneshot(request).await?;
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    let error = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok((status, retry, error))
}

async fn unknown_used_and_expired_enrollment_codes_get_one_and_the_same_refusal_on(
    backend: Backend,
) -> TestResult {
    let (server, _dir) = server(backend, "enroll_refusal", Limits::default())?;
    let now = chrono::Utc::now().timestamp_millis();
    server
        .storage
        .add_enrollment_code("am-li", &hash_secret("USED-CODE"), now, now + 60_000)?;
    server.storage.add_enrollment_code(
        "am-li",
        &hash_secret("OLD-CODE"),
        now - 120_000,
        now - 60_000,
    )?;
    let (status, _, _) = enroll(server.router(), "USED-CODE").await?;
    assert_eq!(status, StatusCode::OK, "the code works once");

    let mut answers = Vec::new();
    for code in ["NO-SUCH-CODE", "USED-CODE", "OLD-CODE"] {
        let (status, _, error) = enroll(server.router(), code).await?;
        answers.push((status, error.error, error.message));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert!(answers[0].2.contains("cannot be used"), "{:?}", answers[0]);
    assert_eq!(
        answers[1], answers[0],
        "a used code answers as an unknown one"
    );
    assert_eq!(
        answers[2], answers[0],
        "an expired code answers as an unknown one"
    );
    Ok(())
}

async fn a_device_over_its_request_rate_gets_429_rate_limited_with_retry_after_on(
    backend: Backend,
) -> TestResult {
    let limits = Limits {
        device_requests_per_minute: 2,
        ..Limits::default()
    };
    // One instance's pace: the limit is per instance.
    let backend = match backend {
        Backend::Postgres { .. } => Backend::Postgres { instances: 1 },
        b => b,
    };
    let (server, _dir) = server(backend, "device_rate", limits)?;
    let token = server.enroll("am-li").await?;
    let pull = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    assert_eq!(server.sync(&token, &pull).await?.0, StatusCode::OK);
    assert_eq!(server.sync(&token, &pull).await?.0, StatusCode::OK);
    let (status, headers, body) = server.sync(&token, &pull).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let error: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(error.error, "rate_limited");
    let retry: u64 = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("a Retry-After header")?;
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(error.retry_after, Some(retry));
    // The photo routes take their share of the same pace (shown to fail with the check
    // taken out of `blobs/routes.rs` and `blobs/download.rs`: they answered as usual).
    let hash = "0".repeat(64);
    for request in [
        Request::post("/v1/blobs/status")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"blobs":[]}"#))?,
        Request::patch(format!("/v1/blobs/{hash}?doc=x"))
            .header("Upload-Offset", "0")
            .header("Upload-Length", "1")
            .body(Body::from("x"))?,
        Request::get(format!("/v1/blobs/{hash}?doc=x")).body(Body::empty())?,
    ] {
        let mut request = request;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, format!("Bearer {token}").parse()?);
        let what = format!("{} {}", request.method(), request.uri());
        let answer = server.router().oneshot(request).await?;
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
    }

    // Another device of the same user has its own pace.
    let other = server.enroll("am-li").await?;
    assert_eq!(server.sync(&other, &pull).await?.0, StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_with_one_code_beyond_ten_an_hour_are_refused_with_retry_after() -> TestResult {
    let (server, _dir) = server(Backend::Sqlite, "enroll_code_rate", Limits::default())?;
    for attempt in 1..=10 {
        let (status, _, _) = enroll(server.router(), "GUESS-ONE").await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let (status, retry, error) = enroll(server.router(), "GUESS-ONE").await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error.error, "rate_limited");
    let retry: u64 = retry.ok_or("a Retry-After header")?.parse()?;
    assert!((300..=400).contains(&retry), "a tenth of an hour: {retry}");
    // Another code is not held up by this one.
    assert_eq!(
        enroll(server.router(), "GUESS-TWO").await?.0,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

/// Posts an enrollment with a fresh code from `peer`, saying it forwards `client`.
async fn enroll_via(
    router: axum::Router,
    peer: &str,
    client: &str,
    n: usize,
) -> Fallible<StatusCode> {
    let body = serde_json::json!({"code": format!("GUESS-{n}"), "device_name": "a phone"});
    let mut request = Request::post("/v1/enroll")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", client)
        .body(Body::from(body.to_string()))?;
    let peer: std::net::SocketAddr = peer.parse()?;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    Ok(router.oneshot(request).await?.status())
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_enrollment_throttle_counts_each_forwarded_client_apart()
-> TestResult {
    let proxy = "127.0.0.1:50000";
    for (trusted, other_client_throttled) in [("127.0.0.1", false), ("", true)] {
        let limits = Limits {
            trusted_proxies: trusted.parse()?,
            enroll_per_source_per_minute: 1,
            ..Limits::default()
        };
        let (server, _dir) = server(Backend::Sqlite, "enroll_behind_proxy", limits)?;
        // A source's burst is 300 attempts; bounded: one more than that.
        let mut refused = None;
        for n in 0..=300 {
            let status = enroll_via(server.router(), proxy, "203.0.113.7", n).await?;
            if status == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(n);
                break;
            }
        }
        assert_eq!(
            refused,
            Some(300),
            "trusted `{trusted}`: the burst ends the first client"
        );
        let status = enroll_via(server.router(), proxy, "203.0.113.8", 1_000).await?;
        let throttled = status == StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            throttled, other_client_throttled,
            "trusted `{trusted}`: another client behind the proxy got {status}"
        );
    }
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(unknown_used_and_expired_enrollment_codes_get_one_and_the_same_refusal_on: unknown_used_and_expired_enrollment_codes_get_one_and_the_same_refusal, unknown_used_and_expired_enrollment_codes_get_one_and_the_same_refusal_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_device_over_its_request_rate_gets_429_rate_limited_with_retry_after_on: a_device_over_its_request_rate_gets_429_rate_limited_with_retry_after, a_device_over_its_request_rate_gets_429_rate_limited_with_retry_after_on_postgres);
